"""bench/chaos.py --smoke runs (3 SIGKILLs of ``deskbot run`` under a small Telegram + Slack
load, SQLite) and its books balance: the script exits 0, prints PASS and the counts it
judged by, so the chaos bench cannot rot unnoticed."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.bot.conftest import ROOT


def count(out: str, label: str) -> int:
    found = re.search(rf"^\s+{re.escape(label)}\s+(\d+)", out, re.MULTILINE)
    assert found is not None, f"no {label!r} line in:\n{out}"
    return int(found.group(1))


def test_chaos_smoke_kills_three_times_and_the_books_balance() -> None:
    done = subprocess.run([sys.executable, "bench/chaos.py", "--smoke"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    assert out.rstrip().endswith("PASS"), out
    assert count(out, "kills (SIGKILL)") == 3
    tickets = re.search(r"^\s+tickets\s+(\d+) in the database, (\d+) told", out, re.MULTILINE)
    assert tickets is not None and int(tickets.group(2)) > 0, out  # the load filed tickets
    assert count(out, "lost tickets") == 0 and count(out, "duplicated tickets") == 0
    assert count(out, "lost notifications") == 0
    per_chat = re.search(r"at most (\d+) per chat per kill", out)
    assert per_chat is not None and int(per_chat.group(1)) <= 1, out  # one send in flight per chat


def test_two_replicas_smoke_one_runner_takes_over_and_the_books_balance() -> None:
    """Must-show 5 in small: two replicas on one PostgreSQL behind the bench's round-robin
    proxy; the runner is SIGKILLed once and the other takes over; never two runners, the
    standby never sent anything, and the books balance."""
    done = subprocess.run([sys.executable, "bench/chaos.py", "--smoke", "--replicas", "2", "--db", "postgresql"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    assert out.rstrip().endswith("PASS"), out
    assert re.search(r"kills \(SIGKILL\)\s+1\s+\(of the runner: 1\)", out), out
    assert count(out, "takeovers") == 1
    runner = re.search(r"two runners at once (\d+), .*sends by never-runner processes (\d+) \((\d+) of (\d+)", out)
    assert runner is not None, out
    assert runner.group(1) == "0" and runner.group(2) == "0"
    assert int(runner.group(3)) >= 1  # some process served only as the standby, and sent nothing
    assert count(out, "lost tickets") == 0 and count(out, "duplicated tickets") == 0
    assert count(out, "lost notifications") == 0
