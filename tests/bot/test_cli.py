"""``deskbot run`` without tokens and ``deskbot db upgrade``."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.cli import main
from store.migrate import head_revision
from tests.bot.conftest import SAMPLE_CONFIG, RunDeskbot


def test_run_without_tokens_points_to_the_console(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--config", str(SAMPLE_CONFIG), "run"])

    out, err = capsys.readouterr()
    assert code != 0
    assert "TELEGRAM_BOT_TOKEN" in err and "SLACK_BOT_TOKEN" in err
    assert "deskbot console" in err


def test_run_without_tokens_as_a_process(run_deskbot: RunDeskbot) -> None:
    result = run_deskbot("--config", str(SAMPLE_CONFIG), "run")

    assert result.returncode != 0
    assert "deskbot console" in result.stderr


def test_run_with_a_broken_config_reports_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("desk: {colour: blue}\n", encoding="utf-8")

    assert main(["--config", str(broken), "run"]) == 1
    assert "desk.colour: unknown key" in capsys.readouterr().err


def test_db_upgrade_creates_the_schema_on_a_fresh_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "fresh.db"

    assert main(["--config", str(SAMPLE_CONFIG), "db", "upgrade", "--db", str(db)]) == 0

    out = capsys.readouterr().out
    assert out.strip() == f"database sqlite+aiosqlite:///{db.resolve()}: empty -> {head_revision()}"
    with closing(sqlite3.connect(db)) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        [(version,)] = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"ticket", "ticket_event", "conversation", "inbox_event", "outbox", "kb_feedback"} <= tables
    assert version == head_revision()

    # Running it again is a no-op.
    assert main(["--config", str(SAMPLE_CONFIG), "db", "upgrade", "--db", str(db)]) == 0
    assert capsys.readouterr().out.strip().endswith(f": {head_revision()} -> {head_revision()}")


def test_db_upgrade_uses_deskbot_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("DESKBOT_DATABASE_URL", f"sqlite+aiosqlite:///{db}")

    assert main(["--config", str(SAMPLE_CONFIG), "db", "upgrade"]) == 0

    assert db.is_file()
    assert f"-> {head_revision()}" in capsys.readouterr().out


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err
