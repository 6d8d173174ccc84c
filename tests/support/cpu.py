"""CPU seconds from /proc: figures a shared host's load does not bend the way wall time."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str]:
    # fields after the command name, which may itself hold spaces and parentheses
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def proc_cpu(pid: int, children: bool = False) -> float:
    """User + system seconds of pid; with children, of its reaped children too."""
    fields = _stat(pid)
    used = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        used += int(fields[13]) + int(fields[14])  # cutime, cstime
    return used / TICK


def parent_pid(pid: int) -> int:
    return int(_stat(pid)[1])


def _live(field: int, value: int) -> float:
    """CPU seconds of every live process whose stat field `field` equals value."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(entry.name)[field]) == value:
                    total += proc_cpu(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue   # exited meanwhile
    return total


def group_cpu(pgid: int) -> float:
    """CPU seconds of every live process in process group pgid."""
    return _live(2, pgid)


def postgres_cpu(postmaster: int) -> float:
    """The postmaster, its live backends, and (through its child times) exited ones."""
    return proc_cpu(postmaster, children=True) + _live(1, postmaster)
