"""Config of ``deskbot run`` and its platforms: ``server.listen``, ``telegram.*`` (nested webhook,
the old flat names), team chat ids — each mistake refused with a clear message by
``deskbot check-config`` (exit 1, nothing else done) and by ``deskbot run``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.config import ConfigError, parse_config, split_listen
from tests.bot.conftest import SAMPLE_CONFIG

TOKEN = "7311122233:AAH4xQ1rFz9Vb2lK8sTtY0pWmNcDe3fGhIj"
SECRET = "wh_Q8f2LmZp4RtY7uVxK3nB9cD"
HOOK = "https://desk.example.com/telegram/webhook"


@pytest.fixture
def sample() -> dict[str, Any]:
    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def with_telegram(sample: dict[str, Any], **telegram: Any) -> dict[str, Any]:
    sample["telegram"] = {"token": TOKEN, **telegram}
    return sample


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="t.yaml", env={})
    return dict(info.value.problems)


def test_the_sample_defaults(sample: dict[str, Any]) -> None:
    config = parse_config(sample, env={})
    assert config.server.listen == "127.0.0.1:8080" and config.server.host_port == ("127.0.0.1", 8080)
    assert config.server.reuse_port is False  # one process per port unless asked
    assert config.telegram.mode == "polling" and config.telegram.api_base == "https://api.telegram.org"
    assert config.telegram.webhook.url is None and not config.telegram.webhook.secret.get_secret_value()


def test_environment_fills_the_run_settings(sample: dict[str, Any]) -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_URL": HOOK,
           "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_API_BASE": "http://127.0.0.1:8081",
           "DESKBOT_LISTEN": "0.0.0.0:9000"}
    config = parse_config(sample, env=env)
    tg = config.telegram
    assert tg.enabled and tg.mode == "webhook" and tg.api_base == "http://127.0.0.1:8081"
    assert tg.webhook.url == HOOK and tg.webhook.secret.get_secret_value() == SECRET
    assert config.server.host_port == ("0.0.0.0", 9000)
    assert config.server.reuse_port is False
    assert parse_config(sample, env={**env, "DESKBOT_REUSE_PORT": "true"}).server.reuse_port is True


def test_webhook_mode_with_url_and_secret_is_accepted(sample: dict[str, Any]) -> None:
    config = parse_config(with_telegram(sample, mode="webhook", webhook={"url": HOOK, "secret": SECRET}), env={})
    assert config.telegram.webhook.url == HOOK and config.telegram.webhook_secret.get_secret_value() == SECRET


def test_the_old_flat_webhook_names_still_work(sample: dict[str, Any]) -> None:
    data = with_telegram(sample, mode="webhook", webhook_url=HOOK, webhook_secret=SECRET)
    config = parse_config(data, env={})
    assert config.telegram.webhook.url == HOOK and config.telegram.webhook.secret.get_secret_value() == SECRET
    assert config.telegram.webhook_url == HOOK  # read-only alias of webhook.url


LONG = "a" * 257


@pytest.mark.parametrize(
    ("telegram", "path", "message"),
    [
        ({"token": "12345"}, "telegram.token", "does not look like a bot token"),
        ({"token": "abc:AAH4xQ1rFz9Vb2lK8sTtY0pWmNcDe3fGhIj"}, "telegram.token", "<digits>:"),
        ({"token": "7311122233:short"}, "telegram.token", "does not look like a bot token"),
        ({"token": TOKEN + " "}, "telegram.token", "does not look like a bot token"),
        ({"mode": "pull"}, "telegram.mode", "'polling' or 'webhook'"),
        ({"api_base": "api.telegram.org"}, "telegram.api_base", "http:// or https:// URL"),
        ({"api_base": "ftp://127.0.0.1"}, "telegram.api_base", "http:// or https:// URL"),
        ({"mode": "webhook"}, "telegram", "mode: webhook needs webhook.url"),
        ({"mode": "webhook", "webhook": {"url": HOOK}}, "telegram", "needs webhook.secret"),
        ({"mode": "webhook", "webhook": {"secret": SECRET}}, "telegram", "needs webhook.url"),
        ({"webhook": {"url": "http://desk.example.com/telegram/webhook"}}, "telegram.webhook.url",
         "must be an https:// URL"),
        ({"webhook": {"secret": "has spaces"}}, "telegram.webhook.secret", "1-256 characters"),
        ({"webhook": {"secret": "пароль"}}, "telegram.webhook.secret", "A-Z, a-z, 0-9, _ and -"),
        ({"webhook": {"secret": LONG}}, "telegram.webhook.secret", "has 257 character(s)"),
        ({"webhook_secret": SECRET, "webhook": {"secret": SECRET}}, "telegram",
         "webhook_secret and webhook.secret both given"),
        ({"webhook": {"path": "/x"}}, "telegram.webhook.path", "unknown key"),
    ],
)
def test_telegram_mistakes(sample: dict[str, Any], telegram: dict[str, Any], path: str, message: str) -> None:
    found = problems(with_telegram(sample, **telegram))
    assert path in found, found
    assert message in found[path]
    assert SECRET not in found[path] and TOKEN not in found[path] and LONG not in found[path]


@pytest.mark.parametrize(
    ("listen", "ok"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("0.0.0.0:0", ("0.0.0.0", 0)), ("[::1]:8443", ("::1", 8443)),
        ("localhost:80", ("localhost", 80)), ("8080", None), ("127.0.0.1:", None), (":8080", None),
        ("127.0.0.1:65536", None), ("127.0.0.1:http", None), ("127.0.0.1:８０", None),
    ],
)
def test_listen_is_host_colon_port(sample: dict[str, Any], listen: str, ok: tuple[str, int] | None) -> None:
    sample["server"] = {"listen": listen}
    if ok is None:
        assert "expected host:port" in problems(sample)["server.listen"]
        with pytest.raises(ValueError):
            split_listen(listen)
    else:
        assert parse_config(sample, env={}).server.host_port == ok


@pytest.mark.parametrize(
    ("where", "value", "ok"),
    [
        (("teams", "it", "chats", "telegram"), "-1001000000001", -1001000000001),
        (("teams", "it", "chats", "telegram"), "it-group", None),
        (("teams", "it", "chats", "telegram"), -1001000000001.5, None),
        (("teams", "it", "chats", "telegram"), True, None),
        (("teams", "it", "lead_chats", "telegram"), "@it_leads", None),
        (("people", "anna", "telegram"), "@anna", None),
    ],
)
def test_telegram_ids_are_integers(sample: dict[str, Any], where: tuple[str, ...], value: Any, ok: int | None) -> None:
    node = sample
    for key in where[:-1]:
        node = node.setdefault(key, {})
    node[where[-1]] = value
    if ok is None:
        assert "a Telegram id must be an integer" in problems(sample)[".".join(where)]
    else:
        config = parse_config(sample, env={})
        assert config.teams["it"].chats.telegram == ok


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_check_config_reports_the_run_settings(tmp_path: Path, sample: dict[str, Any],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, with_telegram(sample, mode="webhook", webhook={"url": HOOK, "secret": SECRET}))

    assert main(["check-config", str(path)]) == 0

    out = capsys.readouterr().out
    assert f"telegram: webhook {HOOK}, Bot API https://api.telegram.org" in out
    assert "HTTP server of deskbot run: 127.0.0.1:8080" in out
    assert TOKEN not in out and SECRET not in out


def test_check_config_refuses_a_bad_webhook_and_does_nothing_else(
    tmp_path: Path, sample: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    sample["desk"]["database_url"] = f"sqlite+aiosqlite:///{tmp_path / 'never.db'}"
    path = write(tmp_path, with_telegram(sample, mode="webhook", webhook={"url": "http://x.example/hook",
                                                                         "secret": "bad secret!"}))

    assert main(["check-config", str(path)]) == 1
    assert main(["--config", str(path), "run"]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert "telegram.webhook.url: must be an https:// URL" in err
    assert "telegram.webhook.secret: must be 1-256 characters" in err and "bad secret!" not in err
    assert not (tmp_path / "never.db").exists()  # nothing was started


def test_run_refuses_a_bad_listen_override(tmp_path: Path, sample: dict[str, Any],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    sample["desk"]["database_url"] = f"sqlite+aiosqlite:///{tmp_path / 'never.db'}"
    path = write(tmp_path, with_telegram(sample))

    assert main(["--config", str(path), "run", "--listen", "8080"]) == 2

    assert "--listen: expected host:port" in capsys.readouterr().err
    assert not (tmp_path / "never.db").exists()


def test_only_slack_configured_serves_slack(tmp_path: Path, sample: dict[str, Any]) -> None:
    from bot.config import load_config
    from bot.run import build_frontends

    sample["slack"]["bot_token"] = "xoxb-4471122334-5566778899001-Zr8QvL2mN4pT6wX9yB1cD3fG"
    sample["slack"]["signing_secret"] = "8f14e45fceea167a5a36dedd4bea2543"  # required over HTTP
    config = load_config(str(write(tmp_path, sample)))
    assert [f.platform for f in build_frontends(config)] == ["slack"]
