"""Logging for every ``deskbot`` command: one line per record, JSON or text, secrets redacted.

The engine logs one ``event handled`` record per event with ``extra`` fields
(platform, person, action, ticket); both formatters show those fields. The
:class:`SecretFilter` sits on the handler, so it sees every record that is written —
ours and those of aiohttp, aiogram or SQLAlchemy — and replaces each configured
secret (bot tokens, webhook and signing secrets, the database password) in the
message, its arguments, extra fields and tracebacks before anything is formatted.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Any

from bot.config import Config, redact_secrets

LOG_FORMATS = ("text", "json")
MASK = "***"
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or None


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra`` fields (ticket, platform, …) are kept."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update(_extras(record))
        exc = _exception_text(self, record)
        if exc:
            data["exc"] = exc
        if record.stack_info:
            data["stack"] = record.stack_info
        return json.dumps(data, ensure_ascii=False, default=str)


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if text == "" or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class TextFormatter(logging.Formatter):
    """``2026-12-02T10:00:00 INFO deskbot.engine event handled platform=telegram person=anna ...``.

    Extra fields follow the message as ``key=value`` (quoted when they hold spaces); a
    traceback follows on the next lines, as usual.
    """

    def format(self, record: logging.LogRecord) -> str:
        parts = [self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={_text_value(v)}" for k, v in _extras(record).items()]
        line = " ".join(parts)
        exc = _exception_text(self, record)
        if exc:
            line += "\n" + exc
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class SecretFilter(logging.Filter):
    """Replace every given secret (and URL passwords, ``/bot<token>`` paths) with ``***``.

    It renders the message with its arguments first, so a secret passed as an argument
    (``log.info("GET %s", url)``) is caught as well as one in the format string.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a token is masked whole rather than a part of it first.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return redact_secrets(text)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        text = str(value)
        cleaned = self.redact(text)
        return value if cleaned == text else cleaned

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a bad format string is shown raw, still redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        for key, value in _extras(record).items():
            setattr(record, key, self._clean(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def secrets_of(config: Config) -> list[str]:
    """Every secret value the config holds (empty ones left out)."""
    values = [
        config.telegram.token.get_secret_value(),
        config.telegram.webhook.secret.get_secret_value(),
        config.slack.bot_token.get_secret_value(),
        config.slack.signing_secret.get_secret_value(),
        config.slack.app_token.get_secret_value(),
    ]
    token = config.telegram.token.get_secret_value()
    if ":" in token:
        values.append(token.split(":", 1)[1])  # the secret half, should it be logged alone
    values.append(database_password(config.desk.database_url) or "")
    return [v for v in values if v]


def database_password(url: str) -> str | None:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).password
    except Exception:  # noqa: BLE001 — an unparsable URL has no password we can name
        return None


def setup_logging(level: str, fmt: str = "text", secrets: Iterable[str] = ()) -> logging.Handler:
    """Install one stderr handler on the root logger (replacing earlier ones)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    return handler


def add_secrets(secrets: Iterable[str]) -> None:
    """Once the config is loaded: redact its secrets on every root handler as well."""
    for handler in logging.getLogger().handlers:
        for existing in list(handler.filters):
            if isinstance(existing, SecretFilter):
                handler.removeFilter(existing)
                secrets = [*existing.secrets, *secrets]
        handler.addFilter(SecretFilter(secrets))
