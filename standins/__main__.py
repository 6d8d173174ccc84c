"""`python -m standins <name> [--port N] [fault flags]`: run one stand-in in the foreground.

Each stand-in module exposes `main(argv) -> int` and parses its own flags; register it in
STANDINS. `python -m standins <name> -h` shows that stand-in's flags.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from standins import homeria, push, sms, smtp, webhook

STANDINS: dict[str, Callable[[list[str]], int]] = {
    "homeria": homeria.main,
    "smtp": smtp.main,
    "sms": sms.main,
    "push": push.main,
    "webhook": webhook.main,
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m standins",
                                     description="Run one loopback stand-in.")
    parser.add_argument("name", choices=sorted(STANDINS))
    chosen = parser.parse_args(args[:1])   # the rest belongs to the stand-in's own parser
    return STANDINS[chosen.name](args[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
