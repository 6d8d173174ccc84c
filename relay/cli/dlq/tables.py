"""How `relay dlq` shows things: ages, scrubbed cells, and tables that never cut an id."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from relay.cli.common import console
from relay.logs import scrub


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            rest = s % size
            sub = {"d": ("h", 3600), "h": ("m", 60), "m": ("s", 1)}[unit]
            return f"{s // size}{unit}" + (f" {rest // sub[1]}{sub[0]}" if rest >= sub[1] else "")
    return f"{s}s"


def cell(value) -> str:
    return "-" if value in (None, "") else escape(scrub(str(value)))


def print_rows(title: str, rows: list[dict], cols: tuple[str, ...]) -> None:
    if not rows:
        console.print(f"[bold]{title}[/bold]: none")
        return
    flex = "detail" if "detail" in cols else ("note" if "note" in cols else None)
    print_table(title, cols, [tuple(cell(row.get(c)) for c in cols) for row in rows],
                flex=flex)


def print_table(title: str | None, cols: tuple[str, ...], rows: list[tuple[str, ...]], *,
                flex: str | None = None, right: set[str] = frozenset(),
                empty: str = "nothing") -> None:
    """A table whose identifying columns are never cut: they keep their natural width and
    only `flex` (free text) shrinks. Wider than the terminal, lines wrap rather than lose
    an id; piped output (Rich assumes 80 columns) stays whole."""
    if not rows:
        console.print(empty)
        return
    table = Table(title=title, show_edge=False, pad_edge=False)
    needed = 0
    for i, col in enumerate(cols):
        natural = max(len(col), *(len(r[i]) for r in rows))
        if col == flex:
            table.add_column(col, overflow="ellipsis", no_wrap=True, ratio=1,
                             max_width=120)
            needed += min(natural, 40) + 3
        else:
            table.add_column(col, no_wrap=True, min_width=natural,
                             justify="right" if col in right else "left")
            needed += natural + 3
    for row in rows:
        table.add_row(*row)
    if needed <= console.width:
        console.print(table)
    else:  # Console.print(width=) can only narrow; a wider console for this table
        Console(width=needed, force_terminal=console.is_terminal or None,
                no_color=console.no_color).print(table)
