"""``bench/latency.py --smoke``: the latency bench runs end to end and prints its figures
(p50/p99 per size, the target verdict, cold and warm start-up)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_latency_bench_smoke_prints_its_figures(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "latency.py"), "--smoke"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    search = {c[0]: c for c in lines if len(c) == 7 and c[0].isdigit()}
    start = {c[0]: c for c in lines if len(c) == 5 and c[0].isdigit()}
    assert set(search) == set(start) == {"300", "1000"}
    for cells in search.values():
        p50, p99 = float(cells[2]), float(cells[3])
        assert 0 < p50 <= p99
    assert search["300"][4] != "-"  # the rapidfuzz baseline is printed beside it
    assert search["1000"][6].startswith("<=5")  # the 1k target is judged (ok or MISSED)
    for cells in start.values():
        cold, warm = float(cells[1]), float(cells[2])
        assert 0 < warm < cold  # a warm start loads the cached index instead of building
        assert float(cells[4]) > 0  # the cache was written
    assert not list(tmp_path.glob("deskbot-latency-*"))  # its temporary KB is cleaned up
