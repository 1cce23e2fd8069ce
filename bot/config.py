"""Loading and validating ``config.yaml``.

The whole desk is described by one YAML file. Secrets are written as ``${ENV}``
(required) or ``${ENV:-default}`` placeholders and substituted at load time.
Every problem is reported with its key path (``teams.it.tiers.L1[0]``) before
anything starts; :func:`load_config` raises :class:`ConfigError` carrying all of
them at once.
"""

from __future__ import annotations

import os
import re
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

Locale = Literal["en", "ru"]
Role = Literal["all", "web", "runner"]  # what one ``deskbot run`` process takes on (RunnerConfig.role)
LOCALES: tuple[str, ...] = ("en", "ru")
TIERS: tuple[str, ...] = ("L1", "L2", "L3")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DATABASE_URL_ENV = "DESKBOT_DATABASE_URL"
CONFIG_ENV = "DESKBOT_CONFIG"

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?$")


class ConfigError(Exception):
    """The configuration is unusable. ``problems`` holds ``(key_path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem(s)"]
        lines += [f"  {path or '<root>'}: {msg}" for path, msg in problems]
        super().__init__("\n".join(lines))


def parse_duration(value: Any) -> timedelta:
    """Parse ``15m``, ``4h``, ``2d``, ``1h30m`` (or a number of minutes)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return timedelta(minutes=value)
    if isinstance(value, str):
        m = _DURATION.match(value.strip())
        if m and any(m.groups()):
            d, h, mi = (int(g) if g else 0 for g in m.groups())
            td = timedelta(days=d, hours=h, minutes=mi)
            if td > timedelta(0):
                return td
    raise ValueError(f"expected a positive duration like 15m, 4h, 2d or 1h30m, got {value!r}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(_Model):
    """A text in English and Russian. A plain string in YAML means the same in both."""

    en: str
    ru: str

    def get(self, locale: str) -> str:
        return self.ru if locale == "ru" else self.en


def _localized(value: Any) -> Any:
    if isinstance(value, str):
        return {"en": value, "ru": value}
    return value


class DeskConfig(_Model):
    name: str = "deskbot"
    default_locale: Locale = "en"
    timezone: str = "UTC"
    # May hold a password: kept out of repr (use redact_url() to show it).
    database_url: str = Field(default="sqlite+aiosqlite:///deskbot.db", repr=False)
    kb_dir: str | None = None
    kb_suggestions: int = Field(default=3, ge=1, le=10)
    kb_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    kb_cache_dir: str | None = None  # built KB index cache; None: $XDG_CACHE_HOME/deskbot/kb
    # How often every process checks for `deskbot kb reload` and edited KB files (seconds).
    kb_reload_seconds: float = Field(default=10, gt=0, le=3600)
    # Where "Save this answer as an article" writes drafts (null: <kb_dir>/drafts if writable,
    # else ./kb-drafts). Drafts are never loaded by the matcher.
    kb_drafts_dir: str | None = None
    kb_semantic: bool = False  # the SemanticMatcher (needs the 'semantic' extra) instead of the lexical one
    ask_priority: bool = False
    duplicate_window_days: int = Field(default=14, ge=0, le=365)
    reopen_window_days: int = Field(default=14, ge=0, le=365)  # a resolved ticket's thread offers a reopen this long
    # The category a request that fits no other can always be filed under (listed last);
    # it must exist in categories.
    fallback_category: str = "other"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_tz(v)

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                f"(got {redact_url(v)!r})"
            )
        return v


def _check_tz(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r} (use an IANA name like Europe/Moscow)") from None
    return v


# --- business calendars (H-CAL) --------------------------------------------------------------

_HOURS_PART = re.compile(r"^(\d{1,2}:\d{2})-(\d{1,2}:\d{2})(\+1)?$")
MINUTES_PER_DAY = 24 * 60


def _clock_minutes(text: str, *, end: bool) -> int:
    if end and text == "24:00":
        return MINUTES_PER_DAY
    return (t := time.fromisoformat(text.zfill(5))).hour * 60 + t.minute


def parse_hours(spec: str) -> list[tuple[int, int]]:
    """Working intervals of a day as (start, end) minutes after local midnight.

    ``"09:00-13:00, 14:00-18:00"``: in order, not overlapping (touching is fine);
    ``24:00`` is midnight at the end of the day; ``22:00-06:00+1`` is a night window that
    ends the next day (its end is then above 1440), allowed last and only if it ends before
    the first window of the next day starts. Raises ``ValueError`` with a readable message.
    """
    out: list[tuple[int, int]] = []
    parts = [p.strip() for p in spec.split(",")]
    for i, part in enumerate(parts):
        m = _HOURS_PART.match(part.replace(" ", ""))
        try:
            if m is None:
                raise ValueError
            start, end = _clock_minutes(m.group(1), end=False), _clock_minutes(m.group(2), end=True)
        except ValueError:
            raise ValueError(f"expected HH:MM-HH:MM (several: 09:00-13:00, 14:00-18:00), got {part!r}") from None
        if m.group(3):
            if i != len(parts) - 1 or end >= start or end == MINUTES_PER_DAY:
                raise ValueError(f"{part!r}: only the last window may end the next day (+1), "
                                 "and it must end earlier in the day than it starts")
            end += MINUTES_PER_DAY
        elif start >= end:
            raise ValueError(f"start must be before end, got {part!r} "
                             f"(a night window that ends the next day is written {part}+1)")
        if out and start < out[-1][1]:
            raise ValueError(f"windows must be in order and must not overlap: {part!r} starts "
                             f"before the previous one ends")
        out.append((start, end))
    if out and out[-1][1] > MINUTES_PER_DAY + out[0][0]:
        raise ValueError(f"the night window {parts[-1]!r} overlaps the next day's first window {parts[0]!r}")
    return out


def _hours_text(value: Any) -> Any:
    """``hours`` may be a YAML list of intervals; it is kept as one comma-separated string."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(v.strip() for v in value)
    return value


def _check_hours(v: str | None) -> str | None:
    if v is not None:
        if not v.strip():
            raise ValueError("at least one working window is needed, like 09:00-18:00")
        parse_hours(v)
    return v


def _check_days(v: list[str] | None) -> list[str] | None:
    if v is None:
        return v
    bad = [d for d in v if d not in WEEKDAYS]
    if bad:
        raise ValueError(f"unknown day(s) {bad}; use {', '.join(WEEKDAYS)}")
    if not v:
        raise ValueError("at least one working day is needed")
    return v


def _check_country(v: str | None) -> str | None:
    if v is None:
        return v
    import holidays as holidays_package

    if v.upper() not in holidays_package.list_supported_countries():
        raise ValueError(f"unknown country code {v!r} for the holidays package (use ISO codes like RU, DE, US)")
    return v.upper()


class CalendarPatch(_Model):
    """Some fields of a calendar: a team's ``calendar_overrides`` or a person's ``shift``.

    Each given field replaces the one of the calendar it applies to; the rest is kept."""

    timezone: str | None = None
    working_days: list[str] | None = None
    hours: str | None = None
    holidays: list[date] | None = None
    holidays_country: str | None = None
    holidays_subdivision: str | None = None
    working_dates: list[date] | None = None

    _hours_in = field_validator("hours", mode="before")(_hours_text)
    _hours_ok = field_validator("hours")(_check_hours)
    _days_ok = field_validator("working_days")(_check_days)
    _country_ok = field_validator("holidays_country")(_check_country)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else _check_tz(v)

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CalendarConfig(_Model):
    """A named calendar. ``hours``: one or more windows a day (``"09:00-13:00, 14:00-18:00"``
    or a YAML list). Holidays: the listed dates plus, with ``holidays_country`` (and an
    optional ``holidays_subdivision``), the public holidays of the ``holidays`` package,
    whose transferred working weekend days (Russia's working Saturdays) also count as
    working. ``working_dates``: extra working days; they win over any holiday."""

    timezone: str = "UTC"
    working_days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    hours: str = "09:00-18:00"
    holidays: list[date] = Field(default_factory=list)
    holidays_country: str | None = None
    holidays_subdivision: str | None = None
    working_dates: list[date] = Field(default_factory=list)

    _hours_in = field_validator("hours", mode="before")(_hours_text)
    _hours_ok = field_validator("hours")(_check_hours)
    _days_ok = field_validator("working_days")(_check_days)
    _country_ok = field_validator("holidays_country")(_check_country)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_tz(v)

    @model_validator(mode="after")
    def _consistent(self) -> CalendarConfig:
        both = sorted(set(self.holidays) & set(self.working_dates))
        if both:
            raise ValueError(f"date(s) {[d.isoformat() for d in both]} are both holidays and working_dates")
        if self.holidays_subdivision is not None:
            if self.holidays_country is None:
                raise ValueError("holidays_subdivision needs holidays_country")
            import holidays as holidays_package

            known = holidays_package.list_supported_countries().get(self.holidays_country, [])
            if self.holidays_subdivision not in known:
                raise ValueError(f"unknown subdivision {self.holidays_subdivision!r} of "
                                 f"{self.holidays_country} (known: {', '.join(known) or 'none'})")
        return self

    def patched(self, patch: CalendarPatch | None) -> CalendarConfig:
        """This calendar with the fields ``patch`` gives replaced (validated again)."""
        if patch is None or not patch.given():
            return self
        return CalendarConfig.model_validate({**self.model_dump(), **patch.given()})

    @property
    def start_end(self) -> tuple[time, time]:
        """The first window's (start, end) local times (end 23:59:59.999999 for midnight)."""
        start, end = parse_hours(self.hours)[0]
        last = time(23, 59, 59, 999999) if end >= MINUTES_PER_DAY else time(end // 60, end % 60)
        return time(start // 60, start % 60), last


# --- end of business calendars -------------------------------------------------------------------


_SPAN = re.compile(r"^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?$")


class BusinessSpan(_Model):
    """A length of business time: ``days`` working days of the team's calendar plus
    ``minutes`` business minutes. Written ``30m``, ``2h``, ``3d``, ``1d4h`` (or ``0m``)."""

    days: int = Field(default=0, ge=0, le=365)
    minutes: int = Field(default=0, ge=0, le=525_600)

    @model_validator(mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return {"minutes": value}
        if isinstance(value, str):
            m = _SPAN.match(value.strip())
            if not m or not any(m.groups()):
                raise ValueError(f"expected business time like 30m, 2h, 3d or 1d4h, or off; got {value!r}")
            d, h, mi = (int(g) if g else 0 for g in m.groups())
            return {"days": d, "minutes": h * 60 + mi}
        return value

    def __str__(self) -> str:
        hours, minutes = divmod(self.minutes, 60)
        parts = [f"{self.days}d" * bool(self.days), f"{hours}h" * bool(hours), f"{minutes}m" * bool(minutes)]
        return "".join(parts) or "0m"


class PriorityConfig(_Model):
    """A priority's SLA targets, in business time of the ticket's team calendar: ``4h`` is
    four working hours, ``2d`` two working days (as in the ``sweep:`` rules)."""

    title: Localized
    first_response: BusinessSpan
    resolution: BusinessSpan
    default: bool = False
    keywords: list[str] = Field(default_factory=list)

    _loc = field_validator("title", mode="before")(_localized)

    @field_validator("first_response", "resolution", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> Any:
        if isinstance(v, timedelta):  # a length given in code: that many business minutes
            v = {"minutes": round(v.total_seconds() / 60)}
        try:
            span = v if isinstance(v, BusinessSpan) else BusinessSpan.model_validate(v)
        except ValidationError:
            span = None
        if span is None or not (span.days or span.minutes):
            raise ValueError(f"expected a positive duration like 15m, 4h, 2d or 1h30m, got {v!r}")
        return span


def _telegram_id(value: Any) -> Any:
    """Telegram user and chat ids are integers (groups and supergroups are negative:
    -1001234567890). A quoted number is accepted; anything else is refused plainly."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value.strip()):
        return int(value.strip())
    raise ValueError(
        f"a Telegram id must be an integer like 100001 (a person) or -1001234567890 (a group), got {value!r}"
    )


class PersonConfig(_Model):
    name: str
    locale: Locale | None = None
    telegram: int | None = None
    slack: str | None = None
    email: str | None = None
    # An agent's own working time (hours / working_days / timezone ...) over their team's
    # calendar: the shift auto-assignment and the sweep go by (H-CAL).
    shift: CalendarPatch | None = None

    _tg = field_validator("telegram", mode="before")(_telegram_id)


class TeamChats(_Model):
    telegram: int | None = None
    slack: str | None = None

    _tg = field_validator("telegram", mode="before")(_telegram_id)


class TeamConfig(_Model):
    title: Localized
    calendar: str | None = None
    # Fields of the named calendar this team replaces (e.g. its own hours); needs calendar (H-CAL).
    calendar_overrides: CalendarPatch | None = None
    assignment: Literal["manual", "round_robin", "least_loaded"] = "manual"
    leads: list[str] = Field(default_factory=list)
    tiers: dict[str, list[str]] = Field(default_factory=dict)
    chats: TeamChats = TeamChats()
    lead_chats: TeamChats = TeamChats()
    locale: Locale | None = None  # language of the shared team chats (default: desk's)
    digest_time: str = "09:00"

    _loc = field_validator("title", mode="before")(_localized)

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = [k for k in v if k not in TIERS]
        if bad:
            raise ValueError(f"unknown tier(s) {bad}; use {', '.join(TIERS)}")
        return v

    def members(self) -> list[tuple[str, str]]:
        """(person key, tier) for every agent of the team."""
        return [(p, tier) for tier in TIERS for p in self.tiers.get(tier, [])]


class AskQuestion(_Model):
    """One question of a category's request form, asked before the ticket is filed."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    text: Localized
    required: bool = False

    _loc = field_validator("text", mode="before")(_localized)


class CategoryConfig(_Model):
    team: str
    title: Localized
    keywords: list[str] = Field(default_factory=list)
    ask: list[AskQuestion] = Field(default_factory=list, max_length=10)

    _loc = field_validator("title", mode="before")(_localized)

    @field_validator("ask")
    @classmethod
    def _unique_keys(cls, v: list[AskQuestion]) -> list[AskQuestion]:
        keys = [q.key for q in v]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"question key(s) {dup} used more than once")
        return v


_TOKEN_SHAPE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,64}$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _check_listen(value: str) -> str:
    host, port = split_listen(value)
    del host, port
    return value


def split_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6; port 0 = any free port) as ``(host, port)``."""
    text = value.strip()
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isascii() or not port.isdigit() or int(port) > 65535 or " " in host:
        raise ValueError(f"expected host:port like 127.0.0.1:8080 (port 0 = any free port), got {value!r}")
    return host, int(port)


def _http_url(value: str, *, https_only: bool = False) -> str:
    parts = urlsplit(value)
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc:
        need = "an https:// URL" if https_only else "an http:// or https:// URL"
        raise ValueError(f"must be {need}, got {redact_url(value)!r}")
    return value


class ServerConfig(_Model):
    """The one HTTP server of ``deskbot run``: webhooks, /healthz, /metrics."""

    listen: str = "127.0.0.1:8080"
    # Several processes that serve webhooks (roles all / web) may listen on one host:port
    # (SO_REUSEPORT; the kernel spreads new connections over them), so N ``--role web``
    # processes beside one ``--role runner`` use N cores. PostgreSQL only (refused on SQLite,
    # see docs/architecture.md "Process roles"); a ``runner`` process never shares the port.
    reuse_port: bool = False

    _listen = field_validator("listen")(_check_listen)

    @property
    def host_port(self) -> tuple[str, int]:
        return split_listen(self.listen)


class TelegramWebhookConfig(_Model):
    url: str | None = None  # the public https URL Telegram posts to (ends in /telegram/webhook)
    secret: SecretStr = SecretStr("")  # sent back by Telegram in X-Telegram-Bot-Api-Secret-Token

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        return _http_url(v, https_only=True)

    @field_validator("secret")
    @classmethod
    def _secret(cls, v: SecretStr) -> SecretStr:
        value = v.get_secret_value()
        if value and not _WEBHOOK_SECRET.match(value):
            # The value itself is never shown: it is a secret.
            raise ValueError(
                f"must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule); "
                f"the given value has {len(value)} character(s)"
            )
        return v


_LEGACY_WEBHOOK = {"webhook_url": "url", "webhook_secret": "secret"}


class TelegramConfig(_Model):
    token: SecretStr = SecretStr("")
    mode: Literal["polling", "webhook"] = "polling"
    api_base: str = "https://api.telegram.org"
    webhook: TelegramWebhookConfig = TelegramWebhookConfig()

    @model_validator(mode="before")
    @classmethod
    def _legacy_flat_webhook(cls, data: Any) -> Any:
        """``webhook_url`` / ``webhook_secret`` (the flat names of earlier versions) still work
        and mean ``webhook.url`` / ``webhook.secret``; giving both spellings is a mistake."""
        if not isinstance(data, dict) or not any(k in data for k in _LEGACY_WEBHOOK):
            return data
        data = dict(data)
        nested = data.get("webhook")
        nested = dict(nested) if isinstance(nested, dict) else ({} if nested is None else nested)
        if not isinstance(nested, dict):
            return data
        for old, new in _LEGACY_WEBHOOK.items():
            if old not in data:
                continue
            value = data.pop(old)
            if new in nested:
                raise ValueError(f"{old} and webhook.{new} both given: keep only webhook.{new}")
            nested[new] = value
        data["webhook"] = nested
        return data

    @field_validator("token")
    @classmethod
    def _token(cls, v: SecretStr) -> SecretStr:
        value = v.get_secret_value()
        if value and not _TOKEN_SHAPE.match(value):
            raise ValueError(
                "does not look like a bot token from @BotFather (expected <digits>:<about 35 letters, "
                "digits, _ or ->, like 123456789:AAH...); the value is not shown"
            )
        return v

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, v: str) -> str:
        return _http_url(v)

    @model_validator(mode="after")
    def _webhook_mode(self) -> TelegramConfig:
        if self.mode == "webhook" and self.enabled:
            missing = []
            if not self.webhook.url:
                missing.append("webhook.url (the public https:// URL Telegram posts updates to)")
            if not self.webhook.secret.get_secret_value():
                missing.append("webhook.secret (1-256 characters of A-Z, a-z, 0-9, _ and -)")
            if missing:
                raise ValueError("mode: webhook needs " + " and ".join(missing))
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.token.get_secret_value())

    # The flat names of earlier versions, read-only.
    @property
    def webhook_url(self) -> str | None:
        return self.webhook.url

    @property
    def webhook_secret(self) -> SecretStr:
        return self.webhook.secret


_REACTION_SHAPE = re.compile(r"^[a-z0-9_+'-]{1,100}$")


class SlackConfig(_Model):
    bot_token: SecretStr = SecretStr("")
    signing_secret: SecretStr = SecretStr("")
    app_token: SecretStr = SecretStr("")  # set: Socket Mode instead of HTTP
    api_base: str = "https://slack.com/api/"
    # The emoji (name without colons) that files the message it is put on as a ticket.
    ticket_reaction: str = "ticket"

    @field_validator("bot_token")
    @classmethod
    def _bot_token(cls, v: SecretStr) -> SecretStr:
        value = v.get_secret_value()
        if value and not value.startswith("xoxb-"):
            raise ValueError("must be a bot token (starts with xoxb-, under OAuth & Permissions); the value is not shown")
        return v

    @field_validator("app_token")
    @classmethod
    def _app_token(cls, v: SecretStr) -> SecretStr:
        value = v.get_secret_value()
        if value and not value.startswith("xapp-"):
            raise ValueError("must be an app-level token for Socket Mode (starts with xapp-, under Basic "
                             "Information → App-Level Tokens, scope connections:write); the value is not shown")
        return v

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, v: str) -> str:
        return _http_url(v)

    @field_validator("ticket_reaction")
    @classmethod
    def _reaction(cls, v: str) -> str:
        name = v.strip().strip(":")
        if not _REACTION_SHAPE.match(name):
            raise ValueError(f"must be an emoji name like ticket or :ticket: (lower-case letters, digits, _ + ' -), got {v!r}")
        return name

    @model_validator(mode="after")
    def _http_needs_signing_secret(self) -> SlackConfig:
        if self.enabled and not self.app_token.get_secret_value() and not self.signing_secret.get_secret_value():
            raise ValueError("signing_secret is needed to verify Slack's requests over HTTP "
                             "(Basic Information → Signing Secret), or set app_token for Socket Mode")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token.get_secret_value())


# --- sweep rules (scheduler/sweep.py) ---------------------------------------------------

def _off(value: Any) -> Any:
    """``off`` (or YAML's ``false``) switches a rule off: ``None``."""
    return None if value is False or (isinstance(value, str) and value.strip().lower() == "off") else value


SWEEP_SWITCHABLE = ("unclaimed_repost", "unclaimed_lead", "response_warn", "response_overdue", "escalate_after",
                    "waiting_remind", "waiting_resolve", "unrated_close")


class SweepRuleSet(_Model):
    """The sweep's rules for one team and priority. Every time is business time of the
    team's calendar; ``None`` (``off`` in YAML) switches a rule off."""

    unclaimed_repost: BusinessSpan | None = BusinessSpan(minutes=30)  # unclaimed this long: ping the queue
    unclaimed_lead: BusinessSpan | None = BusinessSpan(minutes=120)  # still unclaimed: ping the queue and the lead
    response_warn: float | None = Field(default=0.8, gt=0, lt=1)  # share of the first-response window: DM the assignee
    response_overdue: BusinessSpan | None = BusinessSpan()  # this long past the first-response due: DM again
    escalate_after: BusinessSpan | None = BusinessSpan(minutes=30)  # this long past an SLA due: up one tier, tell the lead
    waiting_remind: BusinessSpan | None = BusinessSpan(days=2)  # waiting on the requester: remind them
    waiting_resolve: BusinessSpan | None = BusinessSpan(days=3)  # this long after the reminder: resolve (reopenable)
    unrated_close: BusinessSpan | None = BusinessSpan(days=3)  # resolved and not rated: close
    off_shift_notice: bool = True  # an agent off shift or /away with tickets: tell the lead

    _switch = field_validator(*SWEEP_SWITCHABLE, mode="before")(_off)

    @model_validator(mode="after")
    def _lead_after_repost(self) -> SweepRuleSet:
        repost, lead = self.unclaimed_repost, self.unclaimed_lead
        if repost is not None and lead is not None and (lead.days, lead.minutes) <= (repost.days, repost.minutes):
            raise ValueError(f"unclaimed_lead ({lead}) must come after unclaimed_repost ({repost})")
        return self


class SweepOverride(_Model):
    """Some of :class:`SweepRuleSet`'s values, for a team or a priority (``off`` switches one off)."""

    unclaimed_repost: BusinessSpan | None = None
    unclaimed_lead: BusinessSpan | None = None
    response_warn: float | None = Field(default=None, gt=0, lt=1)
    response_overdue: BusinessSpan | None = None
    escalate_after: BusinessSpan | None = None
    waiting_remind: BusinessSpan | None = None
    waiting_resolve: BusinessSpan | None = None
    unrated_close: BusinessSpan | None = None
    off_shift_notice: bool | None = None

    _switch = field_validator(*SWEEP_SWITCHABLE, mode="before")(_off)

    def given(self) -> dict[str, Any]:
        """The values this override sets; a rule given as ``off`` is set to ``None``."""
        return {k: getattr(self, k) for k in SweepOverride.model_fields if k in self.model_fields_set}


class SweepTeamOverride(SweepOverride):
    priorities: dict[str, SweepOverride] = Field(default_factory=dict)


class SweepConfig(_Model):
    """``sweep:`` — what the scheduler's sweep does about tickets that wait.

    Later wins: ``defaults`` < ``teams.T`` < ``priorities.P`` < ``teams.T.priorities.P``."""

    defaults: SweepRuleSet = SweepRuleSet()
    priorities: dict[str, SweepOverride] = Field(default_factory=dict)
    teams: dict[str, SweepTeamOverride] = Field(default_factory=dict)

    def rules(self, team: str | None, priority: str | None) -> SweepRuleSet:
        """The rules for a ticket of ``team`` with ``priority`` (overrides applied in order)."""
        team_conf = self.teams.get(team) if team else None
        layers = (team_conf, self.priorities.get(priority) if priority else None,
                  team_conf.priorities.get(priority) if team_conf and priority else None)
        values: dict[str, Any] = {}
        for layer in layers:
            if layer is not None:
                values.update(layer.given())
        return self.defaults.model_copy(update=values) if values else self.defaults

    def problems(self, teams: Any, priorities: Any) -> list[tuple[str, str]]:
        """Unknown team / priority names, and combinations whose merged rules do not fit."""
        out: list[tuple[str, str]] = []
        for key in self.teams:
            if key not in teams:
                out.append((f"sweep.teams.{key}", f"unknown team {key!r}"))
        named = [("sweep.priorities", self.priorities)] + [
            (f"sweep.teams.{k}.priorities", t.priorities) for k, t in self.teams.items()]
        for path, block in named:
            out += [(f"{path}.{p}", f"unknown priority {p!r}") for p in block if p not in priorities]
        clashes: dict[tuple[str, str], list[str]] = {}  # (priority, problem) -> teams
        for team in teams:
            for priority in priorities:
                try:
                    SweepRuleSet.model_validate(self.rules(team, priority).model_dump())
                except ValidationError as exc:
                    msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
                    clashes.setdefault((priority, msg), []).append(team)
        for (priority, msg), names in clashes.items():
            out.append(("sweep", f"priority {priority} in team(s) {', '.join(names)}: {msg}"))
        return out


class DigestConfig(_Model):
    """The leads' daily digest and ``/stats`` (each team's ``digest_time`` says when)."""

    repeat_window_days: int = Field(default=7, ge=1, le=90)  # same requester + category this close = a repeat
    chart_days: int = Field(default=14, ge=2, le=60)  # days on the chart (created vs resolved, SLA breaches)
    oldest: int = Field(default=5, ge=0, le=20)  # oldest open tickets listed
    low_csat: int = Field(default=2, ge=1, le=5)  # ratings at or below this are quoted with their comment
    gaps: int = Field(default=3, ge=0, le=20)  # top KB gaps listed


# --- runner (one runner per database: scheduler/runner.py) ---

RUNNER_LEASE_SECONDS = 15.0  # a runner silent this long (SQLite lease) may be replaced
RUNNER_HEARTBEAT_SECONDS = 5.0  # how often the runner renews and the others try to take over
RUNNER_WATCH_SECONDS = 0.05  # how often the runner looks for outbox rows other processes wrote


class RunnerConfig(_Model):
    """Who runs the outbox worker and the scheduler when several ``deskbot run`` share a
    database. A dead runner is replaced within ``lease_seconds + heartbeat_seconds`` on
    SQLite and within ``heartbeat_seconds`` on PostgreSQL (its lock dies with it)."""

    lease_seconds: float = Field(default=RUNNER_LEASE_SECONDS, gt=0)
    heartbeat_seconds: float = Field(default=RUNNER_HEARTBEAT_SECONDS, gt=0)
    # What this process does (``deskbot run --role`` overrides it): "all" serves webhooks and
    # may be the runner; "web" serves webhooks and never runs the worker or the scheduler;
    # "runner" may be the runner and serves no webhooks (only /healthz and /metrics).
    # Split roles put inbound work and delivery on different cores (docs/performance.md).
    role: Role = "all"
    # The runner wakes at once for rows its own process commits; rows committed by other
    # processes (replicas, web processes) are found by a look at the newest outbox id this
    # often. 0 turns the look off (then they wait for the worker's idle pass, 1 s).
    watch_seconds: float = Field(default=RUNNER_WATCH_SECONDS, ge=0, le=5)

    @model_validator(mode="after")
    def _renewed_in_time(self) -> RunnerConfig:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError(f"heartbeat_seconds ({self.heartbeat_seconds:g}) must be at most half of "
                             f"lease_seconds ({self.lease_seconds:g}), so a lease is renewed before it runs out")
        return self


class Config(_Model):
    """The validated configuration of one desk."""

    desk: DeskConfig = DeskConfig()
    calendars: dict[str, CalendarConfig] = Field(default_factory=dict)
    priorities: dict[str, PriorityConfig]
    people: dict[str, PersonConfig] = Field(default_factory=dict)
    teams: dict[str, TeamConfig]
    categories: dict[str, CategoryConfig]
    canned: dict[str, Localized] = Field(default_factory=dict)
    server: ServerConfig = ServerConfig()
    telegram: TelegramConfig = TelegramConfig()
    slack: SlackConfig = SlackConfig()
    sweep: SweepConfig = SweepConfig()
    digest: DigestConfig = DigestConfig()
    runner: RunnerConfig = RunnerConfig()

    @property
    def default_priority(self) -> str:
        return next(k for k, p in self.priorities.items() if p.default)

    def team_of_agent(self, person: str) -> list[tuple[str, str]]:
        """(team, tier) pairs where ``person`` is an agent."""
        return [(t, tier) for t, team in self.teams.items() for p, tier in team.members() if p == person]


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def cross_check(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems that span sections (unknown references, missing defaults).

    Works on the raw mapping and tolerates wrong shapes (those are reported by
    validation), so a file with both kinds of mistakes gets every one reported.
    """
    problems: list[tuple[str, str]] = []
    people = _d(data.get("people"))
    calendars = _d(data.get("calendars"))
    teams = _d(data.get("teams"))
    priorities = _d(data.get("priorities"))
    defaults = [k for k, p in priorities.items() if _d(p).get("default") is True]
    if priorities and len(defaults) != 1:
        problems.append(
            ("priorities", f"exactly one priority must have default: true (found {len(defaults)})")
        )
    for key, team in teams.items():
        team = _d(team)
        cal = team.get("calendar")
        if cal is not None and cal not in calendars:
            problems.append((f"teams.{key}.calendar", f"unknown calendar {cal!r}"))
        if team.get("calendar_overrides") and cal is None:
            problems.append((f"teams.{key}.calendar_overrides",
                             "overrides change a named calendar: set teams." + key + ".calendar too"))
        for i, lead in enumerate(_l(team.get("leads"))):
            if lead not in people:
                problems.append((f"teams.{key}.leads[{i}]", f"unknown person {lead!r}"))
        tiers = _d(team.get("tiers"))
        for tier, members in tiers.items():
            for i, who in enumerate(_l(members)):
                if who not in people:
                    problems.append((f"teams.{key}.tiers.{tier}[{i}]", f"unknown person {who!r}"))
        if not _l(tiers.get("L1")):
            problems.append((f"teams.{key}.tiers.L1", "a team needs at least one L1 agent"))
        digest = team.get("digest_time", "09:00")
        try:
            time.fromisoformat(str(digest))
        except ValueError:
            problems.append((f"teams.{key}.digest_time", f"expected HH:MM, got {digest!r}"))
    categories = _d(data.get("categories"))
    for key, cat in categories.items():
        team_key = _d(cat).get("team")
        if team_key is not None and team_key not in teams:
            problems.append((f"categories.{key}.team", f"unknown team {team_key!r}"))
    fallback = _d(data.get("desk")).get("fallback_category", "other")
    if isinstance(fallback, str) and categories and fallback not in categories:
        problems.append(("desk.fallback_category",
                         f"unknown category {fallback!r} (the category for requests that fit no other "
                         "must exist; default: other)"))
    for platform in ("telegram", "slack"):
        seen: dict[Any, str] = {}
        for key, person in people.items():
            pid = _d(person).get(platform)
            if pid is None:
                continue
            if pid in seen:
                problems.append((f"people.{key}.{platform}", f"same id as people.{seen[pid]}"))
            seen[pid] = key
    return problems


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*):[^/\s]*@(?=[^@/\s]*(?:[/?#\s]|$))")
_BOT_TOKEN = re.compile(r"(/bot)\d+:[A-Za-z0-9_-]+")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def redact_url(url: str) -> str:
    """Hide the password of a database URL (also an empty user name or a password with ``@``)."""
    return _URL_PASSWORD.sub(r"\1:***@", url)


def redact_secrets(text: str) -> str:
    """Hide passwords of URLs and Telegram bot tokens (``/bot123:ABC``) anywhere in ``text``."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return _BOT_TOKEN.sub(r"\1***", text)


def _substitute(node: Any, path: str, env: dict[str, str], problems: list[tuple[str, str]]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, _join(path, str(k)), env, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, f"{path}[{i}]", env, problems) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:

        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append((path, f"environment variable {name} is not set"))
            return ""

        return _PLACEHOLDER.sub(repl, node)
    return node


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _loc_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = _join(out, str(part))
    return out


def parse_config(
    data: Any, *, source: str = "<config>", env: dict[str, str] | None = None
) -> Config:
    """Validate already-parsed YAML data; raise :class:`ConfigError` with every problem."""
    env = dict(os.environ) if env is None else env
    if not isinstance(data, dict):
        raise ConfigError(source, [("", "the file must be a YAML mapping")])
    problems: list[tuple[str, str]] = []
    data = _substitute(data, "", env, problems)
    if env.get(DATABASE_URL_ENV):
        desk = data.get("desk")
        data["desk"] = {**(desk if isinstance(desk, dict) else {}), "database_url": env[DATABASE_URL_ENV]}
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p not in ("function-after[_localized(), Localized]",))
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.append((_loc_path(loc), msg))
        problems += cross_check(data)
        raise ConfigError(source, problems) from None
    problems += cross_check(data) + patched_calendar_problems(config)
    problems += config.sweep.problems(config.teams, config.priorities)
    if problems:
        raise ConfigError(source, problems)
    return config


def patched_calendar_problems(config: Config) -> list[tuple[str, str]]:
    """Team overrides and personal shifts that make their calendar invalid (H-CAL)."""
    problems: list[tuple[str, str]] = []

    def merged(path: str, base: CalendarConfig | None, patch: CalendarPatch | None) -> CalendarConfig | None:
        if base is None:
            return None
        try:
            return base.patched(patch)
        except ValidationError as exc:
            problems.extend((path, e["msg"].removeprefix("Value error, ")) for e in exc.errors())
            return None

    teams = {key: merged(f"teams.{key}.calendar_overrides", config.calendars.get(team.calendar or ""),
                         team.calendar_overrides) for key, team in config.teams.items()}
    for key, person in config.people.items():
        if person.shift is None:
            continue
        for team_key, _tier in config.team_of_agent(key):
            base = teams[team_key] or (None if config.teams[team_key].calendar else CalendarConfig())
            if merged(f"people.{key}.shift", base, person.shift) is None and base is not None:
                break  # one report per person is enough
    return problems


def load_config(path: str | Path | None = None, *, env: dict[str, str] | None = None) -> Config:
    """Read, substitute and validate a config file (default: ``$DESKBOT_CONFIG`` or ./config.yaml)."""
    env_map = dict(os.environ) if env is None else env
    resolved = Path(path or env_map.get(CONFIG_ENV) or default_config_path())
    if not resolved.is_file():
        raise ConfigError(str(resolved), [("", "file not found")])
    try:
        data = yaml.safe_load(resolved.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(
            str(resolved), [("", f"{where}invalid YAML: {getattr(exc, 'problem', exc)}")]
        ) from None
    return parse_config(data, source=str(resolved), env=env_map)


def default_config_path() -> Path:
    """``./config.yaml`` if present, else the sample next to the source checkout."""
    local = Path("config.yaml")
    if local.is_file():
        return local
    return Path(__file__).resolve().parent.parent / "config.yaml"
