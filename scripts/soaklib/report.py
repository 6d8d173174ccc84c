"""The soak's summary: what ran, what was injected, and one line per check."""

from __future__ import annotations

from soaklib.checks import Check


def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(header: list[tuple[str, str]], timeline: list[str], checks: list[Check]) -> str:
    out = ["", "relay soak: summary", ""]
    pad = max(len(k) for k, _ in header)
    out += [f"  {k.ljust(pad)}  {v}" for k, v in header]
    out += ["", "faults injected (seconds after the producers started):"]
    out += [f"  {line}" for line in timeline]
    out += ["", table([("check", "result", "figures"),
                       *((c.name, "ok" if c.ok else "FAIL", c.figures) for c in checks)])]
    failed = [c for c in checks if not c.ok]
    if failed:
        out += ["", "failures:"]
        for check in failed:
            out += [f"  {check.name}:"] + [f"    - {line}" for line in check.failures]
    out += ["", f"result: {'PASS' if not failed else 'FAIL'} "
                f"({len(checks) - len(failed)}/{len(checks)} checks hold)", ""]
    return "\n".join(out)
