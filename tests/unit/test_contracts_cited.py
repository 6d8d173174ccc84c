"""The contracts the code cites are in the repository, and match the pinned source.

docs/contracts/ mirrors ../shared/contracts/ (the pinned source, beside the checkout where
it exists); a docstring pointing at a contract a reader cannot open is a broken promise.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CITED = re.compile(r"[\w./-]*contracts/[\w-]+\.md")
SCANNED = ("relay", "sync_worker", "notifications", "standins", "scripts")
PINNED = ROOT.parent / "shared" / "contracts"


def _citations() -> dict[str, set[str]]:
    files = [ROOT / "README.md", ROOT / "celeryconfig.py"]
    for top in SCANNED:
        files += sorted((ROOT / top).rglob("*.py"))
    found: dict[str, set[str]] = {}
    for path in files:
        for cited in CITED.findall(path.read_text(encoding="utf-8")):
            found.setdefault(cited.lstrip("./"), set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_cited_contract_is_in_the_repository():
    cited = _citations()
    assert {"docs/contracts/relay.md", "docs/contracts/homeria.md"} <= set(cited)
    missing = {path: sorted(where) for path, where in cited.items()
               if not (ROOT / path).is_file()}
    assert missing == {}


def test_a_citation_of_a_missing_contract_is_caught():
    assert CITED.findall("mirrors the table of contracts/homeria.md row by row") == [
        "contracts/homeria.md"]
    assert not (ROOT / "contracts/homeria.md").exists()


@pytest.mark.skipif(not PINNED.is_dir(),
                    reason="no pinned ../shared/contracts beside this checkout")
def test_the_in_repo_contracts_mirror_the_pinned_source():
    pinned = {p.name: p.read_text() for p in PINNED.glob("*.md")}
    mirrored = {p.name: p.read_text() for p in (ROOT / "docs" / "contracts").glob("*.md")}
    assert mirrored == pinned
