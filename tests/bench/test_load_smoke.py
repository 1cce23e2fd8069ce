"""``bench/load.py --smoke``: the load bench runs end to end — a real ``deskbot run`` on
SQLite behind its Telegram and Slack webhooks, the fakes, the simulated people, the bare
aiogram and bolt baselines — and prints its figures: every step with events, a rate, p50 /
p95 / p99 and no error; requests taken all the way to resolved with none failed; the
our/bare ratio per platform; and that the platforms' limits were off for the figures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIELD = re.compile(r"(\w+)=(\S+)")


def test_the_load_bench_smoke_run_prints_its_figures_with_no_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESKBOT_", "TELEGRAM_", "SLACK_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "--smoke"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    assert "rate limits OFF" in out and "pacing OFF" in out  # said, since the figures depend on it

    results = [dict(FIELD.findall(line)) for line in out.splitlines() if line.startswith("RESULT ")]
    desk = [r for r in results if r["db"] == "sqlite"]
    bare = {r["step"]: r for r in results if r["db"] == "bare"}
    assert [r["step"] for r in desk] == ["20/s", "max_mix", "max_telegram", "max_slack"], out
    for r in desk + list(bare.values()):
        assert r["errors"] == "0", out
        assert int(r["events"]) > 0 and float(r["achieved"]) > 0, out
        p50, p95, p99 = (float(r[k]) for k in ("p50_ms", "p95_ms", "p99_ms"))
        assert 0 < p50 <= p95 <= p99, r
    assert all(float(r["rss_mb"]) > 20 for r in desk), out  # the bot's peak RSS was read
    assert set(bare) == {"max_telegram", "max_slack"}, out

    flows = dict(FIELD.findall(next(line for line in out.splitlines() if line.startswith("FLOWS "))))
    assert int(flows["resolved"]) >= 1 and flows["failed"] == "0", out  # whole requests went through

    ratio = dict(FIELD.findall(next(line for line in out.splitlines() if "RATIO db=sqlite" in line)))
    for step in ("max_telegram", "max_slack"):
        ours, theirs = float(next(r for r in desk if r["step"] == step)["achieved"]), float(bare[step]["achieved"])
        # the bench divides the unrounded rates; the printed ones are rounded to 0.1/s
        assert abs(float(ratio[step]) - ours / theirs) <= 0.006, (ratio, ours, theirs)
    assert "Traceback" not in done.stderr
