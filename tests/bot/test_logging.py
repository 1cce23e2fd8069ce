"""Structured logs: one JSON line per handled event, with platform and ticket, no secrets."""

from __future__ import annotations

import json
import logging

import pytest

from bot.cli import JsonFormatter
from tests.support.desk import Desk


async def test_one_json_line_per_event_with_ticket_and_platform(
    sqlite_desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    desk = sqlite_desk
    await desk.say("anna", "принтер не печатает")
    if "Создать заявку" in desk.last("anna").labels():  # the KB may or may not suggest articles
        await desk.press("anna", "Создать заявку")
    await desk.press("anna", "Да")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deskbot.engine"):
        await desk.press("boris", "Взять")
    records = [r for r in caplog.records if r.getMessage() == "event handled"]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    data = json.loads(line)
    assert "\n" not in line
    assert data["platform"] == "console" and data["ticket"] == 1 and data["action"] == "claim"
    assert data["person"] == "boris"


def test_formatter_keeps_extras_and_exceptions() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "sent %s", ("ok",), None)
    record.platform = "telegram"
    data = json.loads(JsonFormatter().format(record))
    assert data == {**data, "msg": "sent ok", "platform": "telegram", "level": "warning"}
