"""Config loading: placeholders, overrides, every mistake reported with its key path,
``deskbot check-config``, and secrets kept out of reprs and error output."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.config import BusinessSpan, ConfigError, load_config, parse_config, parse_duration, redact_secrets, redact_url
from tests.bot.conftest import SAMPLE_CONFIG, RunDeskbot

TG_TOKEN = "7311122233:AAH4xQ1rFz9Vb2lK8sTtY0pWmNcDe3fGhIj"
SLACK_TOKEN = "xoxb-SLACK-SECRET-bot-token"
SIGNING = "slack-SIGNING-SECRET-0123"
DB_PASSWORD = "Pg-SECRET-pw"
SECRET_ENV = {
    "TELEGRAM_BOT_TOKEN": TG_TOKEN,
    "TELEGRAM_WEBHOOK_SECRET": "tg-WEBHOOK-SECRET",
    "SLACK_BOT_TOKEN": SLACK_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING,
    "SLACK_APP_TOKEN": "xapp-APP-SECRET",
    "DESKBOT_DATABASE_URL": f"postgresql+asyncpg://desk:{DB_PASSWORD}@db.example:5432/desk",
}
SECRETS = [v for k, v in SECRET_ENV.items() if k != "DESKBOT_DATABASE_URL"] + [DB_PASSWORD]


@pytest.fixture
def sample() -> dict[str, Any]:
    """The sample config as parsed YAML, for tests to break in one place."""
    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def problems_of(data: Any, env: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="test.yaml", env=env or {})
    return dict(info.value.problems)


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- the sample ------------------------------------------------------------------------------


def test_sample_config_loads() -> None:
    config = load_config(SAMPLE_CONFIG, env={})

    # The services of the product brief: IT, HR, finance, procurement, legal, office.
    assert list(config.teams) == ["it", "hr", "accounting", "procurement", "legal", "office"]
    assert all(team.tiers.get("L1") and team.leads for team in config.teams.values())
    assert config.desk.fallback_category == "other" and config.categories["other"].title.ru == "Другое"
    assert config.teams["it"].members() == [("boris", "L1"), ("vera", "L2")]
    assert config.teams["it"].leads == ["gleb"] and config.teams["hr"].leads == ["egor"]
    assert config.people["anna"].locale == "ru" and config.people["vera"].locale == "en"
    assert config.default_priority == "normal"
    assert config.priorities["urgent"].first_response == BusinessSpan(minutes=15)
    assert config.priorities["low"].resolution == BusinessSpan(days=5)  # five working days
    assert config.categories["network"].team == "it"
    assert config.desk.database_url == "sqlite+aiosqlite:///deskbot.db"  # the ${…:-default}
    assert not config.telegram.enabled and not config.slack.enabled
    assert config.team_of_agent("vera") == [("it", "L2")]


def test_config_path_comes_from_deskbot_config(tmp_path: Path, sample: dict[str, Any]) -> None:
    sample["desk"]["name"] = "Elsewhere desk"
    path = write_yaml(tmp_path / "other.yaml", sample)

    config = load_config(None, env={"DESKBOT_CONFIG": str(path)})

    assert config.desk.name == "Elsewhere desk"


# --- ${ENV} placeholders ------------------------------------------------------------------------


def test_placeholders_take_values_from_the_environment(sample: dict[str, Any]) -> None:
    sample["desk"]["name"] = "${DESK_PREFIX}-desk-${DESK_SUFFIX:-x}"
    config = parse_config(sample, env={"TELEGRAM_BOT_TOKEN": TG_TOKEN, "DESK_PREFIX": "acme", "DESK_SUFFIX": "ru"})

    assert config.telegram.token.get_secret_value() == TG_TOKEN
    assert config.telegram.enabled and not config.slack.enabled
    assert config.desk.name == "acme-desk-ru"


def test_placeholder_defaults_apply_only_when_unset(sample: dict[str, Any]) -> None:
    sample["desk"]["name"] = "${DESK_NAME:-Fallback desk}"
    sample["desk"]["kb_suggestions"] = "${KB_N:-2}"

    assert parse_config(sample, env={}).desk.name == "Fallback desk"
    assert parse_config(sample, env={}).desk.kb_suggestions == 2
    assert parse_config(sample, env={"DESK_NAME": "Set", "KB_N": "5"}).desk.name == "Set"
    assert parse_config(sample, env={"KB_N": "5"}).desk.kb_suggestions == 5
    assert parse_config(sample, env={"DESK_NAME": ""}).desk.name == ""  # set-but-empty is a value


def test_a_missing_environment_variable_is_reported_with_its_key_path(sample: dict[str, Any]) -> None:
    sample["telegram"]["token"] = "${TG_TOKEN_NOT_SET}"
    sample["teams"]["it"]["leads"] = ["${IT_LEAD_NOT_SET}"]

    with pytest.raises(ConfigError) as info:
        parse_config(sample, source="test.yaml", env={})

    assert ("telegram.token", "environment variable TG_TOKEN_NOT_SET is not set") in info.value.problems
    assert ("teams.it.leads[0]", "environment variable IT_LEAD_NOT_SET is not set") in info.value.problems
    assert "test.yaml: " in str(info.value) and "  telegram.token: environment variable" in str(info.value)


def test_deskbot_database_url_overrides_the_file(sample: dict[str, Any]) -> None:
    sample["desk"]["database_url"] = "sqlite+aiosqlite:///from-file.db"
    url = "postgresql+asyncpg://desk@db.example/desk"

    assert parse_config(sample, env={}).desk.database_url == "sqlite+aiosqlite:///from-file.db"
    assert parse_config(sample, env={"DESKBOT_DATABASE_URL": url}).desk.database_url == url
    del sample["desk"]
    assert parse_config(sample, env={"DESKBOT_DATABASE_URL": url}).desk.database_url == url


def test_a_bad_database_url_is_reported_without_its_password(sample: dict[str, Any]) -> None:
    problems = problems_of(sample, env={"DESKBOT_DATABASE_URL": f"mysql://desk:{DB_PASSWORD}@db/desk"})

    assert "must start with sqlite+aiosqlite:// or postgresql+asyncpg://" in problems["desk.database_url"]
    assert "desk:***@db" in problems["desk.database_url"]
    assert DB_PASSWORD not in str(problems)


# --- mistakes, each with its key path --------------------------------------------------------------


def test_unknown_keys_are_reported_where_they_are(sample: dict[str, Any]) -> None:
    sample["colour"] = "blue"
    sample["desk"]["kb_sugestions"] = 3
    sample["teams"]["it"]["chats"]["telegarm"] = -100
    sample["people"]["anna"]["phone"] = "+7"

    problems = problems_of(sample)

    assert {p: problems[p] for p in ("colour", "desk.kb_sugestions", "teams.it.chats.telegarm", "people.anna.phone")} == {
        "colour": "unknown key",
        "desk.kb_sugestions": "unknown key",
        "teams.it.chats.telegarm": "unknown key",
        "people.anna.phone": "unknown key",
    }


@pytest.mark.parametrize("value", ["1 hour", "0m", "-5m", "", "15", "h", True])
def test_a_bad_duration_is_reported(sample: dict[str, Any], value: Any) -> None:
    sample["priorities"]["high"]["first_response"] = value

    problems = problems_of(sample)

    assert "expected a positive duration" in problems["priorities.high.first_response"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("15m", timedelta(minutes=15)), ("4h", timedelta(hours=4)), ("2d", timedelta(days=2)),
     ("1h30m", timedelta(hours=1, minutes=30)), ("1d 2h", timedelta(days=1, hours=2)), (90, timedelta(minutes=90))],
)
def test_durations_parse(value: Any, expected: timedelta) -> None:
    assert parse_duration(value) == expected


def test_calendar_mistakes_are_reported(sample: dict[str, Any]) -> None:
    cal = sample["calendars"]["moscow"]
    cal["hours"] = "18:00-09:00"
    cal["working_days"] = ["mon", "funday"]
    cal["timezone"] = "Mars/Olympus"

    problems = problems_of(sample)

    assert "start must be before end" in problems["calendars.moscow.hours"]
    assert "funday" in problems["calendars.moscow.working_days"]
    assert "unknown time zone 'Mars/Olympus'" in problems["calendars.moscow.timezone"]


def test_unknown_references_are_reported(sample: dict[str, Any]) -> None:
    sample["teams"]["it"]["calendar"] = "berlin"
    sample["teams"]["it"]["leads"] = ["gleb", "olga"]
    sample["teams"]["hr"]["tiers"]["L1"] = ["dina", "petr"]
    sample["categories"]["leave"]["team"] = "finance"

    problems = problems_of(sample)

    assert problems == {
        "teams.it.calendar": "unknown calendar 'berlin'",
        "teams.it.leads[1]": "unknown person 'olga'",
        "teams.hr.tiers.L1[1]": "unknown person 'petr'",
        "categories.leave.team": "unknown team 'finance'",
    }


def test_cross_section_rules_are_reported(sample: dict[str, Any]) -> None:
    sample["priorities"]["urgent"]["default"] = True  # a second default
    sample["teams"]["hr"]["tiers"] = {"L2": ["dina"]}  # no L1
    sample["people"]["egor"]["telegram"] = sample["people"]["dina"]["telegram"]
    sample["teams"]["hr"]["digest_time"] = "9am"

    problems = problems_of(sample)

    assert problems["priorities"] == "exactly one priority must have default: true (found 2)"
    assert problems["teams.hr.tiers.L1"] == "a team needs at least one L1 agent"
    assert problems["people.egor.telegram"] == "same id as people.dina"
    assert "expected HH:MM" in problems["teams.hr.digest_time"]


def test_shape_and_cross_section_mistakes_are_reported_together(sample: dict[str, Any]) -> None:
    sample["desk"]["kb_suggestions"] = "many"
    sample["teams"]["it"]["tiers"]["L1"] = ["nobody"]

    problems = problems_of(sample)

    assert set(problems) == {"desk.kb_suggestions", "teams.it.tiers.L1[0]"}


def test_a_file_that_is_not_a_mapping_or_not_yaml_or_missing(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("desk:\n  name: [unclosed\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="the file must be a YAML mapping"):
        load_config(tmp_path / "list.yaml", env={})
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: invalid YAML"):
        load_config(tmp_path / "broken.yaml", env={})
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml", env={})


# --- deskbot check-config ------------------------------------------------------------------------------

THREE_MISTAKES = ("desk.kb_sugestions", "priorities.high.first_response", "teams.it.tiers.L1[0]")


@pytest.fixture
def three_mistakes(tmp_path: Path, sample: dict[str, Any]) -> Path:
    sample["desk"]["kb_sugestions"] = 5  # a typo in a key
    sample["priorities"]["high"]["first_response"] = "1 hour"  # a bad duration
    sample["teams"]["it"]["tiers"]["L1"] = ["borsi"]  # an unknown person
    return write_yaml(tmp_path / "broken.yaml", sample)


def assert_names_the_three_mistakes(err: str) -> None:
    assert "3 problem(s)" in err
    lines = err.splitlines()
    for path in THREE_MISTAKES:
        assert any(line.strip().startswith(f"{path}:") for line in lines), (path, err)
    assert "unknown key" in err
    assert "'1 hour'" in err
    assert "unknown person 'borsi'" in err


def test_check_config_names_every_mistake(three_mistakes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(three_mistakes)]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert_names_the_three_mistakes(err)


def test_check_config_as_a_process(three_mistakes: Path, run_deskbot: RunDeskbot) -> None:
    result = run_deskbot("check-config", str(three_mistakes))

    assert result.returncode == 1, result.stderr
    assert_names_the_three_mistakes(result.stderr)


def test_check_config_accepts_the_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(SAMPLE_CONFIG)]) == 0

    out, _ = capsys.readouterr()
    assert out.startswith("config OK: 6 teams, 14 categories, 14 people")
    assert "platforms: none (console only)" in out


def test_check_config_of_a_missing_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(tmp_path / "nope.yaml")]) == 1
    assert "file not found" in capsys.readouterr().err


# --- secrets ----------------------------------------------------------------------------------------------


def test_secrets_never_appear_in_the_config_repr() -> None:
    config = load_config(SAMPLE_CONFIG, env=SECRET_ENV)
    assert config.telegram.token.get_secret_value() == TG_TOKEN  # loaded, just hidden

    for shown in (repr(config), str(config), repr(config.telegram), repr(config.slack), repr(config.desk)):
        for secret in SECRETS:
            assert secret not in shown
    dumped = config.model_dump_json()  # a dump keeps the database URL (it is needed) but no token
    for secret in SECRETS[:-1]:
        assert secret not in dumped


def test_secrets_never_appear_in_check_config_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], three_mistakes: Path
) -> None:
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)

    assert main(["check-config", str(SAMPLE_CONFIG)]) == 0
    ok_out, ok_err = capsys.readouterr()
    assert "platforms: telegram, slack" in ok_out
    assert "postgresql+asyncpg://desk:***@db.example:5432/desk" in ok_out

    assert main(["check-config", str(three_mistakes)]) == 1
    bad_out, bad_err = capsys.readouterr()
    assert "3 problem(s)" in bad_err

    for secret in SECRETS:
        assert secret not in ok_out + ok_err + bad_out + bad_err


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("postgresql+asyncpg://u:p%40ss@h:5432/db") == "postgresql+asyncpg://u:***@h:5432/db"
    assert redact_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert redact_url("sqlite+aiosqlite:///tmp/desk.db") == "sqlite+aiosqlite:///tmp/desk.db"


def test_redact_url_hides_a_password_without_user_or_with_an_at_sign() -> None:
    assert redact_url("postgresql+asyncpg://:PW@host/x") == "postgresql+asyncpg://:***@host/x"
    assert redact_url("postgresql+asyncpg://u:p@ss@h:5432/db") == "postgresql+asyncpg://u:***@h:5432/db"
    assert redact_url("postgresql+asyncpg://u:a@b@c@h/db?x=1") == "postgresql+asyncpg://u:***@h/db?x=1"


def test_redact_secrets_hides_bot_tokens_and_url_passwords_in_any_text() -> None:
    text = ("TelegramError: https://api.telegram.org/bot123456:ABC-DEF_x/sendMessage; "
            "db postgresql+asyncpg://u:p@ss@h/db down")
    assert redact_secrets(text) == (
        "TelegramError: https://api.telegram.org/bot***/sendMessage; db postgresql+asyncpg://u:***@h/db down"
    )
    assert redact_secrets("connection reset") == "connection reset"


# --- request forms and the fallback category (issue 7) ------------------------------------


def test_sample_forms_are_parsed() -> None:
    config = load_config(SAMPLE_CONFIG, env={})

    system = config.categories["business_apps"].ask[0]
    assert (system.key, system.required) == ("system", True)
    assert system.text.en.startswith("Which system?") and system.text.ru.startswith("Какая система?")
    assert [q.required for q in config.categories["purchase"].ask] == [True, False]
    assert config.categories["network"].ask == []


def test_form_mistakes_are_reported_with_their_key_paths(sample: dict[str, Any]) -> None:
    sample["categories"]["access"]["ask"] = [
        {"key": "system", "text": {"en": "Which system?"}, "required": "maybe"},
        {"key": "Bad Key", "text": "Why?", "colour": "red"},
    ]
    sample["categories"]["hardware"]["ask"] = [
        {"key": "tag", "text": "Asset tag?"},
        {"key": "tag", "text": "Asset tag again?"},
    ]

    problems = problems_of(sample)

    assert "Field required" in problems["categories.access.ask[0].text.ru"]
    assert "categories.access.ask[0].required" in problems
    assert "categories.access.ask[1].key" in problems
    assert problems["categories.access.ask[1].colour"] == "unknown key"
    assert "'tag'" in problems["categories.hardware.ask"]


def test_fallback_category_must_exist(sample: dict[str, Any]) -> None:
    sample["desk"]["fallback_category"] = "misc"
    assert list(problems_of(sample)) == ["desk.fallback_category"]
    assert "unknown category 'misc'" in problems_of(sample)["desk.fallback_category"]

    del sample["desk"]["fallback_category"]  # the default is "other" …
    assert parse_config(sample, env={}).desk.fallback_category == "other"
    del sample["categories"]["other"]  # … which must then exist
    assert "unknown category 'other'" in problems_of(sample)["desk.fallback_category"]
