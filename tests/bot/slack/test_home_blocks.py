"""An App Home view as Block Kit (bot.slack.home): escaped, within Slack's limits."""

from __future__ import annotations

from bot.slack.actions import decode, encode
from bot.slack.home import MAX_HOME_BLOCKS, home_view
from bot.slack.translate import button, press_key
from handlers.events import Button
from handlers.home import HomeRow, HomeSection, HomeView

HOSTILE = "<!channel> <@U123> <http://evil|Reset password> & co"


def section(key: str, rows: int, *, button: bool = False, more: str | None = None) -> HomeSection:
    return HomeSection(key, key.title(), tuple(
        HomeRow(n, f"#{n} {HOSTILE}", "waiting", Button("Claim " * 30, "claim", n) if button else None)
        for n in range(1, rows + 1)), "nothing here", more)


def test_rows_are_escaped_sections_with_a_claim_accessory() -> None:
    view = home_view(HomeView("Desk", "intro", (section("queue", 2, button=True),)))
    assert view["type"] == "home"
    rows = [b for b in view["blocks"] if b["type"] == "section"]
    assert len(rows) == 2
    assert "&lt;!channel&gt;" in rows[0]["text"]["text"] and "<!channel>" not in rows[0]["text"]["text"]
    accessory = rows[1]["accessory"]
    assert len(accessory["text"]["text"]) <= 75
    data = decode(accessory["value"])
    assert data is not None and (data.action, data.ticket) == ("claim", 2)
    ids = [b["accessory"]["action_id"] for b in rows]
    assert len(set(ids)) == len(ids)


def test_an_empty_section_says_so_and_a_cut_one_says_how_many_more() -> None:
    view = home_view(HomeView("Desk", "", (section("requests", 0), section("queue", 1, more="… and 4 more"))))
    contexts = [b["elements"][0]["text"] for b in view["blocks"] if b["type"] == "context"]
    assert contexts == ["nothing here", "… and 4 more"]


def test_never_more_than_a_hundred_blocks() -> None:
    view = home_view(HomeView("Desk", "intro", tuple(section(f"s{i}", 40, button=True) for i in range(3))))
    assert len(view["blocks"]) == MAX_HOME_BLOCKS
    assert view["blocks"][-1]["type"] == "context"


def test_a_press_on_the_home_is_answered_in_the_dm_the_home_names() -> None:
    published = home_view(HomeView("Desk", "", (section("queue", 1, button=True),), reply_chat="D0BORIS"))
    assert published["private_metadata"] == "D0BORIS"
    body = {"type": "block_actions", "user": {"id": "U0BORIS"}, "team": {"id": "T1"},
            "container": {"type": "view", "view_id": "V1"}, "view": {**published, "id": "V1"},
            "actions": [{"action_id": "b0.0", "value": encode(Button("Claim", "claim", 1)), "action_ts": "1.2"}]}
    inc = button(body, press_key(body))
    assert (inc.chat_id, inc.is_private, inc.action, inc.ticket_id) == ("D0BORIS", True, "claim", 1)
    # A modal's private_metadata is not a channel.
    modal = {**body, "view": {"type": "modal", "id": "V2", "private_metadata": "D0BORIS"}}
    assert button(modal, press_key(modal)).chat_id == "U0BORIS"
