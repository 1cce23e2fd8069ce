"""``deskbot digest --team it [--date D] [--png FILE]``: the digest in the terminal, the chart in a file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.app import build
from bot.cli import main
from bot.config import load_config
from store import people, tickets
from tests.bot.conftest import SAMPLE_CONFIG
from tests.support.desk import RecordingSender

MSK = ZoneInfo("Europe/Moscow")


async def _one_ticket(url: str) -> None:
    app = build(load_config(SAMPLE_CONFIG, env={}), senders={"console": RecordingSender()}, database_url=url)
    await app.start()
    try:
        async with app.db.transaction() as s:
            anna = await people.person_by_key(s, "anna")
            assert anna is not None and anna.id is not None
            for hour in (10, 15):  # two Monday tickets, the second answered 30 business minutes later
                ticket = await tickets.create_ticket(
                    s, team="it", category="hardware", priority="normal", requester_id=anna.id, text="принтер",
                    platform="console", now=datetime(2026, 11, 30, hour, tzinfo=MSK).astimezone(UTC),
                    first_response_due=None, resolution_due=None)
            ticket.first_response_at = datetime(2026, 11, 30, 15, 30, tzinfo=MSK).astimezone(UTC)
            s.add(ticket)
    finally:
        await app.close()


def test_the_digest_of_a_day_is_printed_and_its_chart_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "desk.db"
    asyncio.run(_one_ticket(f"sqlite+aiosqlite:///{db}"))
    png = tmp_path / "chart.png"
    code = main(["--config", str(SAMPLE_CONFIG), "digest", "--team", "it", "--date", "2026-11-30",
                 "--db", str(db), "--png", str(png), "--lang", "ru"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("ИТ-поддержка — сводка за понедельник, 30 ноября 2026")
    assert "Создано 2 · решено 0 · открыто сейчас 2" in out and "медиана 30 мин" in out
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (900, 400)

    assert main(["--config", str(SAMPLE_CONFIG), "digest", "--team", "it", "--date", "2026-11-29", "--db", str(db)]) == 0
    assert "Created 0 · resolved 0 · open now 2" in capsys.readouterr().out  # Sunday, in the lead chat's English


@pytest.mark.parametrize(("args", "complaint"), [
    (["--team", "nope"], "--team: unknown team 'nope'"),
    (["--team", "it", "--date", "30.11.2026"], "--date: expected YYYY-MM-DD"),
])
def test_bad_arguments_are_named(args: list[str], complaint: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(SAMPLE_CONFIG), "digest", *args, "--db", str(tmp_path / "x.db")]) == 2
    assert complaint in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()  # nothing was created
