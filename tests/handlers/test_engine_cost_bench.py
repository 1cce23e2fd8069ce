"""``bench/engine_cost.py --smoke``: the engine-cost bench runs on SQLite and PostgreSQL and
prints a row per event kind; each event is one transaction and the card fan-out to 21 agents
costs a handful of statements, not one per agent (the exact budgets are asserted in
``test_query_budget.py``; this keeps the bench itself from rotting)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("text → suggestions", "open ticket tap", "category tap", "new request filed", "claim", "reply", "resolve")


def test_the_engine_cost_bench_smoke_run_prints_every_event_kind_on_both_databases() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "engine_cost.py"), "--smoke"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    sections = out.split("\n## ")[1:]
    assert [s.split(":", 1)[0] for s in sections] == ["sqlite", "postgres"], out
    for section in sections:
        rows = {cells[0]: cells[1:] for cells in
                ([c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| "))}
        assert set(KINDS) <= set(rows), section
        for kind in KINDS:
            statements, transactions = rows[kind][0], rows[kind][1]
            assert transactions == "1", (kind, section)  # one transaction per event
            # A card update to 21 agents must not cost a statement per agent (it used to be ~100).
            assert max(int(n) for n in statements.replace("–", " ").split()) <= 20, (kind, section)
        assert "events/s" in section
