"""`deskbot kb report` reads the feedback the chat recorded in the database."""

from __future__ import annotations

from pathlib import Path

from tests.bot.conftest import RunDeskbot

SCRIPT = """\
/as anna
не работает VPN
1
1
/as dina
абвгд ёжзий клмноп
"""


def test_report_counts_views_solved_and_lists_gaps(run_deskbot: RunDeskbot, tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    session = run_deskbot("console", "--db", str(db), stdin=SCRIPT)
    assert session.returncode == 0, session.stderr
    # anna opened the first suggestion and said it solved her problem; dina's gibberish got
    # no suggestion, so she was asked for a category: no ticket, so no gap yet.
    assert "[anna]" in session.stdout
    report = run_deskbot("kb", "report", "--db", str(db))
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    row = next(line for line in lines if line.startswith("vpn"))
    views, solved, not_solved = row.split()[1:4]
    assert (views, solved, not_solved) == ("1", "1", "0")
    assert "KB gaps: none" in report.stdout


def test_gap_is_listed_once_the_query_becomes_a_ticket(run_deskbot: RunDeskbot, tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    script = "/as dina\nабвгд ёжзий клмноп\n1\n"
    session = run_deskbot("console", "--db", str(db), stdin=script)
    assert session.returncode == 0, session.stderr
    assert "#1" in session.stdout
    report = run_deskbot("kb", "report", "--db", str(db))
    assert "абвгд ёжзий клмноп" in report.stdout.split("KB gaps", 1)[1]
