"""``bench/digest.py --smoke``: the digest bench runs end to end on both databases (bulk
seed through executemany / COPY, the digest and ``/stats month`` timed) and its
consistency checks pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_digest_bench_smoke_run_passes_its_checks() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "digest.py"), "--smoke", "--repeat", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "every check passed" in out
    rows = {cells[0]: cells for cells in (line.split() for line in out.splitlines()) if cells and
            cells[0] in ("sqlite", "postgres")}
    assert set(rows) == {"sqlite", "postgres"}
    assert all(r[1] == "3,000" for r in rows.values())  # the seeded tickets, as printed
    assert all("digest" in r and "month" in r for r in rows.values())
    assert "Traceback" not in done.stderr
