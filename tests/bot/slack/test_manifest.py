"""bot/slack/manifest.yaml asks for exactly the scopes the code uses — no more, no fewer."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = yaml.safe_load((ROOT / "bot" / "slack" / "manifest.yaml").read_text(encoding="utf-8"))

# The bot scope each Web API method needs (https://api.slack.com/methods); None: no scope.
METHOD_SCOPES: dict[str, str | None] = {
    "auth_test": None,
    "chat_postMessage": "chat:write", "chat_update": "chat:write", "chat_postEphemeral": "chat:write",
    "conversations_open": "im:write",
    "conversations_history": "channels:history", "conversations_replies": "channels:history",
    "users_info": "users:read",
    "files_info": "files:read", "files_upload_v2": "files:write",
    "views_open": None, "views_update": None, "views_publish": None, "views_push": None,
}
# The scope each subscribed bot event needs.
EVENT_SCOPES = {"message.im": "im:history", "message.channels": "channels:history",
                "message.groups": "groups:history", "reaction_added": "reactions:read", "app_home_opened": None}
CALL = re.compile(r"\.(auth_test|chat_[A-Za-z]+|conversations_[a-z]+|users_[a-z]+|files_[a-z0-9_]+|views_[a-z]+|"
                  r"reactions_[a-z]+|pins_[a-z]+)\(")


def methods_used() -> set[str]:
    found: set[str] = set()
    for package in ("bot", "scheduler", "handlers"):
        for path in (ROOT / package).rglob("*.py"):
            found.update(CALL.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_method_the_code_calls_is_known_here() -> None:
    unknown = methods_used() - METHOD_SCOPES.keys()
    assert not unknown, f"add these methods and their scopes to METHOD_SCOPES: {sorted(unknown)}"


def test_the_manifest_asks_for_exactly_the_scopes_used() -> None:
    events = MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    needed = {METHOD_SCOPES[m] for m in methods_used()} | {EVENT_SCOPES[e] for e in events}
    if MANIFEST["features"].get("slash_commands"):
        needed.add("commands")
    needed.discard(None)
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed


def test_interactivity_shortcut_and_command_match_the_listeners() -> None:
    listeners = (ROOT / "bot" / "slack" / "listeners.py").read_text(encoding="utf-8")
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    [shortcut] = MANIFEST["features"]["shortcuts"]
    assert f'SHORTCUT = "{shortcut["callback_id"]}"' in listeners
    [command] = MANIFEST["features"]["slash_commands"]
    assert f'COMMAND = "{command["command"]}"' in listeners
