"""The README's "Configuration" tables list exactly the settings registry's variables,
each with the registry's default, so the documentation cannot drift from the code.

How a table row states defaults (its last cell):
- `required…` for a variable without a default;
- `unset…` for one whose default is unset (None); prose may follow;
- otherwise one backticked value per variable of the row, in the row's order.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relay.settings import GROUPS, Settings, Variable, variables

README = Path(__file__).resolve().parents[3] / "README.md"
NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")
VALUE = re.compile(r"`([^`]*)`")


def configuration_rows(text: str) -> list[tuple[list[str], str]]:
    """(variable names, default cell) of each table row under "## Configuration"."""
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        rows.append((NAME.findall(cells[0]), cells[-1]))
    return rows


def rendered(default) -> str:
    """A default as the README writes it."""
    if isinstance(default, tuple):
        return ",".join(default)
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def problems(rows: list[tuple[list[str], str]], registry: list[Variable]) -> list[str]:
    """Every disagreement between the README's rows and the registry, one per line."""
    by_name = {v.name: v for v in registry}
    listed = [name for names, _ in rows for name in names]
    found = []
    missing = sorted(by_name.keys() - set(listed))
    extra = sorted(set(listed) - by_name.keys())
    twice = sorted({n for n in listed if listed.count(n) > 1})
    if missing:
        found.append(f"in the registry, not in the README: {', '.join(missing)}")
    if extra:
        found.append(f"in the README, not in the registry: {', '.join(extra)}")
    if twice:
        found.append(f"listed more than once: {', '.join(twice)}")
    for names, cell in rows:
        known = [by_name[n] for n in names if n in by_name]
        if cell.startswith("required"):
            found += [f"{v.name}: README says required, default is {rendered(v.default)!r}"
                      for v in known if not v.required]
            continue
        if cell.startswith("unset"):
            found += [f"{v.name}: README says unset, default is "
                      f"{'required' if v.required else repr(rendered(v.default))}"
                      for v in known if v.required or v.default is not None]
            continue
        values = VALUE.findall(cell)
        if len(values) != len(names):
            found.append(f"{', '.join(names)}: {len(values)} backticked default(s) for "
                         f"{len(names)} variable(s) in {cell!r}")
            continue
        for name, value in zip(names, values, strict=True):
            v = by_name.get(name)
            if v is None:
                continue
            want = "required" if v.required else "unset" if v.default is None \
                else rendered(v.default)
            if value != want:
                found.append(f"{name}: README default {value!r}, registry {want!r}")
    return found


def test_the_readme_lists_every_variable_with_its_default():
    assert problems(configuration_rows(README.read_text()), variables()) == []


def test_the_registry_covers_every_field_of_settings_once():
    names = [v.name for v in variables()]
    assert len(names) == len(set(names))
    assert set(names) == {f.alias for f in Settings.model_fields.values()}
    assert all(v.description for v in variables()), "every field says what it is for"
    assert set(GROUPS) >= {"sync", "notify", "sla", "oncall", "api"}


@pytest.mark.parametrize(("table", "expected"), [
    ("| `A_B` | x | `1` |\n", "in the registry, not in the README: C_D"),
    ("| `A_B`, `C_D`, `E_F` | x | `1`, `2`, `3` |\n", "in the README, not in the registry: E_F"),
    ("| `A_B`, `C_D` | x | `1`, `3` |\n", "C_D: README default '3', registry '2'"),
    ("| `A_B`, `C_D` | x | `1` |\n", "A_B, C_D: 1 backticked default(s) for 2 variable(s)"),
    ("| `A_B` | x | required |\n| `C_D` | x | `2` |\n", "A_B: README says required"),
    ("| `A_B` | x | `1` |\n| `C_D` | x | unset: off |\n", "C_D: README says unset"),
    ("| `A_B` | x | `1` |\n| `C_D`, `A_B` | x | `2`, `1` |\n", "listed more than once: A_B"),
])
def test_each_kind_of_drift_is_reported_by_name(table, expected):
    registry = [Variable("A_B", "g", 1.0, "a"), Variable("C_D", "g", 2, "c")]
    text = f"# x\n\n## Configuration\n\n| variable | meaning | default |\n|---|---|---|\n{table}"
    found = problems(configuration_rows(text + "\n## Next\n| `C_D` | x | `9` |\n"), registry)
    assert any(p.startswith(expected) for p in found), found
