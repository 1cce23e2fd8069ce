"""Logs of ``deskbot run``: text and JSON lines with the event's fields, and no secret ever —
real-looking tokens passed the way aiohttp, aiogram and SQLAlchemy log them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import parse_config
from bot.logs import SecretFilter, TextFormatter, secrets_of, setup_logging
from tests.bot.conftest import SAMPLE_CONFIG

TOKEN = "7311122233:AAH4xQ1rFz9Vb2lK8sTtY0pWmNcDe3fGhIj"
WEBHOOK_SECRET = "wh_Q8f2LmZp4RtY7uVxK3nB9cD"
SLACK_BOT = "xoxb-4471122334-5566778899001-Zr8QvL2mN4pT6wX9yB1cD3fG"
SLACK_APP = "xapp-1-A0123456789-4471122334455-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SLACK_SIGNING = "8f2b7c1d9e4a6b3c5d7e9f1a2b4c6d8e"
DB_PASSWORD = "s3cr3t-Pg-Pa55"
ENV = {
    "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET, "SLACK_BOT_TOKEN": SLACK_BOT,
    "SLACK_APP_TOKEN": SLACK_APP, "SLACK_SIGNING_SECRET": SLACK_SIGNING,
    "DESKBOT_DATABASE_URL": f"postgresql+asyncpg://desk:{DB_PASSWORD}@127.0.0.1:5432/desk",
}
ALL = [TOKEN, TOKEN.split(":")[1], WEBHOOK_SECRET, SLACK_BOT, SLACK_APP, SLACK_SIGNING, DB_PASSWORD]


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    import yaml

    config = parse_config(yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8")), env=ENV)
    handler = setup_logging("DEBUG", "json", secrets_of(config))
    out = io.StringIO()
    handler.setStream(out)  # type: ignore[attr-defined]
    yield out


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_secrets_of_the_config_are_all_known() -> None:
    import yaml

    config = parse_config(yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8")), env=ENV)
    assert set(ALL) <= set(secrets_of(config))


def test_library_style_log_lines_are_redacted(stream: io.StringIO) -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    # aiohttp's client: the URL as an argument.
    logging.getLogger("aiohttp.client").debug("GET %s -> %s", url, 200)
    # aiogram: the token inside an exception message, logged with a traceback.
    try:
        raise RuntimeError(f"Telegram server says - Unauthorized: token {TOKEN} rejected")
    except RuntimeError:
        logging.getLogger("aiogram.dispatcher").exception("Failed to fetch updates - %s", "TelegramUnauthorizedError")
    # A header dump with the webhook secret, a Slack call, a database URL in the format string.
    logging.getLogger("aiohttp.server").warning(
        "Error handling POST /telegram/webhook headers=%r", {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET})
    logging.getLogger("slack_sdk.web").debug("Sending a request - token: %s, app: %s, signing %s",
                                             SLACK_BOT, SLACK_APP, SLACK_SIGNING)
    logging.getLogger("sqlalchemy.engine").warning(
        f"cannot connect to postgresql+asyncpg://desk:{DB_PASSWORD}@127.0.0.1:5432/desk")
    # A secret in an ``extra`` field, and the token's secret half alone.
    logging.getLogger("deskbot.delivery").warning("send failed", extra={"error": f"bad auth {TOKEN.split(':')[1]}"})

    text = stream.getvalue()
    for secret in ALL:
        assert secret not in text
    records = lines(stream)
    assert len(records) == 6  # redacted, not dropped
    assert records[0]["msg"] == "GET https://api.telegram.org/bot***/getUpdates -> 200"
    assert "RuntimeError" in str(records[1]["exc"]) and "***" in str(records[1]["exc"])
    assert "***" in str(records[2]["msg"]) and records[5]["error"] == "bad auth ***"


def test_text_format_shows_the_event_fields() -> None:
    record = logging.LogRecord("deskbot.engine", logging.INFO, __file__, 1, "event handled", None, None)
    for key, value in {"platform": "telegram", "event_key": "telegram:42:1001", "person": "anna",
                       "action": "claim", "ticket": 12, "replies": 2}.items():
        setattr(record, key, value)

    line = TextFormatter().format(record)

    assert line.endswith(
        "INFO deskbot.engine event handled platform=telegram event_key=telegram:42:1001 person=anna "
        "action=claim ticket=12 replies=2")
    assert "\n" not in line


def test_text_format_quotes_values_with_spaces_and_keeps_tracebacks() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    record.reason = "two words"
    line = TextFormatter().format(record)
    assert 'reason="two words"' in line and "ValueError: boom" in line


def test_filter_survives_a_broken_format_string() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "token %s and %s", (TOKEN,), None)
    assert SecretFilter([TOKEN]).filter(record)
    assert TOKEN not in record.getMessage() and "token" in record.getMessage()


def test_json_is_one_line_per_record(stream: io.StringIO) -> None:
    logging.getLogger("deskbot.engine").info("event handled", extra={"platform": "telegram", "ticket": 3})
    (record,) = lines(stream)
    assert record["platform"] == "telegram" and record["ticket"] == 3 and record["level"] == "info"
