"""``bench/delivery.py --smoke``: the delivery bench runs end to end (the real worker, the
aiogram-based Telegram sender, the fake Bot API enforcing the limits and injecting a 429)
and its own checks pass: everything delivered, nothing before a retry_after expired,
order kept per chat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_delivery_bench_smoke_run_passes_its_checks() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "delivery.py"), "--smoke"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "concurrent: every check passed" in out
    assert "sequential: every check passed" in out
    rows = {cells[0]: cells for cells in (line.split() for line in out.splitlines())
            if len(cells) > 2 and cells[0] in ("concurrent", "sequential") and cells[1].isdigit()}
    assert rows["concurrent"][2] == "90"  # all 90 notifications delivered
    assert "retry_after 1" in out  # the injected 429 was seen and waited out
    assert "Traceback" not in done.stderr
