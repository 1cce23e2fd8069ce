"""``bench/load.py --web-procs 2``: two ``deskbot run --role web`` on one port
(``server.reuse_port``) beside a ``--role runner`` on PostgreSQL serve the load bench end to
end — every step with events and no error, whole requests resolved — and both web processes
took webhooks (each one's log shows handled events)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIELD = re.compile(r"(\w+)=(\S+)")


def test_the_load_bench_runs_two_web_processes_on_one_port() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESKBOT_", "TELEGRAM_", "SLACK_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "--smoke", "--db", "postgres",
                           "--web-procs", "2", "--no-bare", "--step-seconds", "2", "--max-seconds", "1"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    assert re.search(r"deskbot run pid \d+ \+ \d+ \(web\) \+ \d+ \(runner\)", out), out

    results = [dict(FIELD.findall(line)) for line in out.splitlines() if line.startswith("RESULT ")]
    assert [r["step"] for r in results] == ["20/s", "max_mix", "max_telegram", "max_slack"], out
    for r in results:
        assert r["errors"] == "0", out
        assert int(r["events"]) > 0 and float(r["achieved"]) > 0, out
    flows = dict(FIELD.findall(next(line for line in out.splitlines() if line.startswith("FLOWS "))))
    assert int(flows["resolved"]) >= 1 and flows["failed"] == "0", out
    spread = dict(FIELD.findall(next(line for line in out.splitlines() if line.startswith("WEBPROCS "))))
    handled = [int(n) for n in spread["handled"].split(",")]
    assert len(handled) == 2 and min(handled) > 0, out  # the kernel gave both processes connections
    assert "Traceback" not in done.stderr
