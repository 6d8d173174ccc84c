"""The two commands work from a clone only its owner can enter (root's home, `mktemp -d`):
the private PostgreSQL (run as `postgres` when we are root) keeps its data outside it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.e2e


def test_private_postgres_starts_from_a_folder_only_its_owner_can_enter():
    # given a checkout inside a 0700 directory (mktemp -d), as a fresh clone would be
    outer = Path(tempfile.mkdtemp())
    try:
        assert oct(outer.stat().st_mode & 0o777) == "0o700"
        lib = outer / "clone" / "scripts" / "lib"
        lib.mkdir(parents=True)
        shutil.copy(ROOT / "scripts" / "lib" / "common.sh", lib / "common.sh")
        script = f"""
            cd '{outer}/clone'   # where `scripts/test` runs from in a clone
            source '{lib}/common.sh'
            PY='{sys.executable}'
            start_private_postgres
            "$PY" -c "import psycopg, sys; psycopg.connect(sys.argv[1]).execute('SELECT 1')" \
              "$DATABASE_URL"
            echo "URL=$DATABASE_URL"
        """
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        # when the scripts start their private PostgreSQL from there
        result = subprocess.run(["bash", "-c", script], env=env, capture_output=True,
                                text=True, timeout=120)
        # then it starts (no "Permission denied" from initdb), answers, and is gone on exit
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Permission denied" not in result.stderr, result.stderr
        assert "URL=postgresql://postgres@127.0.0.1:" in result.stdout
        match = re.search(r"data in (\S+), removed on exit", result.stderr)
        assert match, result.stderr
        data_dir = match.group(1)
        assert not data_dir.startswith(str(outer))
        assert not Path(data_dir).exists(), "the private data directory is removed on exit"
    finally:
        shutil.rmtree(outer, ignore_errors=True)
