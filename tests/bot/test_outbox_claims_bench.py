"""``bench/outbox_claims.py --smoke``: the worker delivers every row once through an instant
sender with far fewer transactions per row than the per-row worker it replaced (same run)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_outbox_claims_bench_smoke_run_batches_the_database_work() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "outbox_claims.py"), "--smoke"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    rows = {" ".join(cells[:2]): cells for cells in (line.split() for line in out.splitlines()) if len(cells) == 7}
    for db in ("sqlite", "postgresql"):
        batched, baseline = rows[f"{db} batched"], rows[f"{db} baseline"]
        assert batched[2] == baseline[2] == "200"  # every row delivered by both
        assert float(batched[4]) < 0.25 < 0.9 < float(baseline[4])  # transactions per row: batches vs one each
        assert batched[6] == "0"  # no row sent twice
    # a pass of its own for every commit (an ordinary rate): fewer transactions and statements
    # than the per-row worker, even with nothing to batch but the three rows of one commit
    trickle = {}
    for line in out.splitlines():
        m = re.match(r"(\w+) (batched|baseline) +trickle, .*: ([\d.]+) transactions, ([\d.]+) statements", line)
        if m:
            trickle[m[1], m[2]] = float(m[3]), float(m[4])
    for db in ("sqlite", "postgresql"):
        assert trickle[db, "batched"][0] < trickle[db, "baseline"][0], trickle
        assert trickle[db, "batched"][1] < trickle[db, "baseline"][1], trickle
    assert "outbox claims: every row delivered once" in out
