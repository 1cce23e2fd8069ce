"""`deskbot kb reload`, `deskbot kb drafts`, the report's new sections, the
`desk.kb_reload_seconds` / `desk.kb_drafts_dir` settings, and the reload poll loop."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import ConfigError
from bot.kb_reload import KbReloader
from kb.cli import LearnedRow, report_command
from kb.drafts import draft_text, list_drafts, resolve_drafts_dir, write_draft
from kb.feedback import FeedbackRow
from kb.matcher import Matcher
from store import kb_learning, migrate
from store.db import Database
from tests.bot.conftest import SAMPLE_CONFIG, RunDeskbot
from tests.kb.conftest import article_text
from tests.support.clock import FakeClock
from tests.support.scenarios import make_config


@pytest.mark.parametrize("value", [0, -1, 3601, "often"])
def test_kb_reload_seconds_is_validated(value: Any) -> None:
    def change(data: dict[str, Any]) -> None:
        data["desk"]["kb_reload_seconds"] = value

    with pytest.raises(ConfigError) as info:
        make_config(change)
    assert "kb_reload_seconds" in str(info.value)


def test_the_settings_default_and_can_be_set(tmp_path: Path) -> None:
    config = make_config()
    assert config.desk.kb_reload_seconds == 10 and config.desk.kb_drafts_dir is None

    def change(data: dict[str, Any]) -> None:
        data["desk"]["kb_reload_seconds"] = 2.5
        data["desk"]["kb_drafts_dir"] = str(tmp_path)

    config = make_config(change)
    assert (config.desk.kb_reload_seconds, config.desk.kb_drafts_dir) == (2.5, str(tmp_path))


def test_drafts_dir_defaults(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    assert resolve_drafts_dir(None, kb) == kb / "drafts"  # a writable KB directory
    assert resolve_drafts_dir(str(tmp_path / "mine"), kb) == tmp_path / "mine"  # configured
    # a KB directory that cannot take a drafts folder (here: it is not a directory)
    assert resolve_drafts_dir(None, tmp_path / "missing") == Path.cwd() / "kb-drafts"


def test_kb_drafts_lists_file_title_and_time(tmp_path: Path, run_deskbot: RunDeskbot) -> None:
    drafts = tmp_path / "drafts"
    write_draft(drafts, 7, draft_text(title="Копир мигает", lang="ru", question="копир мигает", body="Откройте лоток.",
                                      ticket_id=7))
    write_draft(drafts, 12, draft_text(title="Copier blinks", lang="en", question="copier blinks", body="Open it.",
                                       ticket_id=12))
    assert [d.title for d in list_drafts(drafts)] == ["Копир мигает", "Copier blinks"]
    result = run_deskbot("--config", str(SAMPLE_CONFIG), "kb", "drafts", "--dir", str(drafts))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"drafts in {drafts}:"
    assert lines[1].startswith("ticket-12.md") or lines[1].startswith("ticket-7.md ")
    assert {line.split()[0] for line in lines[1:]} == {"ticket-7.md", "ticket-12.md"}
    assert any(line.endswith("  Копир мигает") for line in lines[1:])
    empty = run_deskbot("--config", str(SAMPLE_CONFIG), "kb", "drafts", "--dir", str(tmp_path / "none"))
    assert empty.returncode == 0 and empty.stdout.startswith("no drafts in")


def test_kb_drafts_uses_the_configured_dir(tmp_path: Path, run_deskbot: RunDeskbot) -> None:
    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["desk"]["kb_drafts_dir"] = str(tmp_path / "d")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    write_draft(tmp_path / "d", 3, draft_text(title="T", lang="en", question="q", body="b", ticket_id=3))
    result = run_deskbot("--config", str(config), "kb", "drafts")
    assert result.returncode == 0, result.stderr
    assert "ticket-3.md" in result.stdout


def test_a_draft_is_never_overwritten(tmp_path: Path) -> None:
    path = write_draft(tmp_path, 1, "first")
    with pytest.raises(FileExistsError):
        write_draft(tmp_path, 1, "second")
    assert path.read_text(encoding="utf-8") == "first"


def test_kb_reload_writes_a_request_row(tmp_path: Path, run_deskbot: RunDeskbot) -> None:
    db = tmp_path / "desk.db"
    for n in (1, 2):
        result = run_deskbot("--config", str(SAMPLE_CONFIG), "kb", "reload", "--db", str(db))
        assert result.returncode == 0, result.stderr
        assert f"kb reload #{n} requested (0 learned questions)" in result.stdout
        assert "within 10 s" in result.stdout
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT id FROM kb_reload ORDER BY id").fetchall() == [(1,), (2,)]


def test_kb_reload_with_a_bad_db_is_one_line(run_deskbot: RunDeskbot) -> None:
    result = run_deskbot("--config", str(SAMPLE_CONFIG), "kb", "reload", "--db", "mysql://root:s3cret@x/y")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "s3cret" not in result.stderr


def test_report_has_deflections_gaps_and_learned_questions(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        FeedbackRow("vpn-connect-ru", "впн не работает", "opened"),
        FeedbackRow("vpn-connect-ru", "впн не работает", "solved"),
        FeedbackRow("vpn-connect-ru", "vpn down", "solved"),
        FeedbackRow("printer-ru", "принтер", "not_solved"),
        FeedbackRow(None, "копир мигает", "gap"),
    ]
    learned = [LearnedRow("printer-ru", "копир мигает", 4), LearnedRow("printer-ru", "копир   пищит", 9),
               LearnedRow("wifi-connect-en", "wireless drops", 5)]
    assert report_command(rows, learned=learned) == 0
    out = capsys.readouterr().out
    deflections = out.split("Deflections", 1)[1].split("KB gaps", 1)[0]
    assert ": 2" in deflections.splitlines()[0] and "   2x  vpn-connect-ru" in deflections
    assert "printer-ru" not in deflections
    gaps = out.split("KB gaps", 1)[1].split("Learned questions", 1)[0]
    assert "   1x  копир мигает" in gaps
    tail = out.split("Learned questions", 1)[1].splitlines()
    assert tail[1:] == ["   2x  printer-ru", "        #4  копир мигает", "        #9  копир пищит",
                        "   1x  wifi-connect-en", "        #5  wireless drops"]


def test_report_without_anything(capsys: pytest.CaptureFixture[str]) -> None:
    report_command([])
    out = capsys.readouterr().out
    assert "Deflections: none" in out and "KB gaps: none" in out and "Learned questions: none" in out


async def test_the_poll_loop_applies_a_request_and_stops(db_url: str, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "printer-en.md").write_text(article_text(title="Printer jammed", questions=("paper jam",),
                                                   tags=("printer",), body="Open the tray."), encoding="utf-8")
    matcher = Matcher.from_dir(kb)
    db = Database(db_url)
    await migrate.upgrade(db)
    try:
        reloader = KbReloader(db, matcher, interval=0.01)
        await reloader.prime()
        rebuilt = asyncio.Event()
        reload = matcher.reload

        def spy(extra: Any = None) -> bool:
            done = reload(extra)
            rebuilt.set()
            return done

        matcher.reload = spy  # type: ignore[method-assign]
        stop = asyncio.Event()
        task = asyncio.create_task(reloader.run(stop))
        async with db.transaction() as s:
            await kb_learning.request_reload(s, FakeClock()())
        await asyncio.wait_for(rebuilt.wait(), 30)
        stop.set()
        await asyncio.wait_for(task, 30)
        assert reloader.reloads == 1 and reloader.seen == 1
    finally:
        await db.dispose()
