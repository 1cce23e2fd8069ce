"""``bench/contention.py --smoke``: 50 concurrent writers on SQLite (and PostgreSQL) run the
desk's write mix with no "database is locked" reaching the caller."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_contention_bench_smoke_run_surfaces_no_lock_errors() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "contention.py"), "--smoke", "--no-baseline"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    rows = {cells[0]: cells for cells in (line.split() for line in out.splitlines())
            if len(cells) == 10 and cells[0] in ("sqlite", "postgresql")}
    assert set(rows) == {"sqlite", "postgresql"}, out
    for name, cells in rows.items():
        ops, locked, sent = int(cells[1]), int(cells[7]), int(cells[9])
        assert locked == 0, f"{name}: lock errors surfaced\n{out}"
        assert ops >= 170 and sent > 0, out  # the mix ran (a few claims may lose a race) and the outbox moved
    assert "contention: every check passed" in out
    assert "Traceback" not in done.stderr
