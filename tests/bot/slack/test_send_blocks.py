"""Block Kit rendering for sending: escaping, Slack's limits, long texts, buttons."""

from __future__ import annotations

import re
from html import unescape

from bot.delivery import RateLimit
from bot.slack.actions import decode
from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_SECTION,
    SlackMessage,
    button_text,
    render_messages,
    render_single,
    split_text,
)
from bot.slack.sender import file_line, is_dm, slack_rate_policy
from handlers.events import Button, Reply
from handlers.richtext import parse_markdown

HOSTILE = "<!channel> <@U123> <http://evil|Reset password> & <!here> &amp; done"


def sections(message: SlackMessage) -> list[str]:
    return [b["text"]["text"] for b in message.blocks if b["type"] == "section"]


def buttons(message: SlackMessage) -> list[dict]:
    return [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def assert_inert(mrkdwn: str) -> None:
    """No Slack control sequence survives: every <, > and & is an entity."""
    assert "<" not in mrkdwn and ">" not in mrkdwn
    assert re.sub(r"&(amp|lt|gt);", "", mrkdwn).count("&") == 0


def assert_within_limits(message: SlackMessage) -> None:
    assert 0 < len(message.blocks) <= MAX_BLOCKS
    assert message.text.strip()
    for block in message.blocks:
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= MAX_SECTION
        else:
            assert block["type"] == "actions" and 0 < len(block["elements"]) <= 25
            for e in block["elements"]:
                assert 0 < len(e["text"]["text"]) <= MAX_BUTTON_TEXT and len(e["value"]) <= 2000
    ids = [e["action_id"] for e in buttons(message)]
    assert len(ids) == len(set(ids))


def test_hostile_plain_text_is_escaped_in_the_section_and_the_fallback() -> None:
    [message] = render_messages(Reply(HOSTILE))
    [text] = sections(message)
    assert_inert(text)
    assert_inert(message.text)
    assert unescape(text) == HOSTILE  # shown literally, nothing lost
    assert text.startswith("&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil|Reset password&gt; &amp; ")
    assert "&amp;amp;" in text  # a typed entity stays literal too


def test_rich_text_becomes_mrkdwn_with_its_text_still_escaped() -> None:
    rich = parse_markdown("**Restart** the `vpn <client>` & see [docs](https://kb.test/?a=1&b=2)")
    [message] = render_messages(Reply("plain", rich=rich))
    [text] = sections(message)
    assert "*Restart*" in text and "`vpn &lt;client&gt;`" in text and " &amp; see " in text
    assert "<https://kb.test/?a=1&amp;b=2|docs>" in text


def test_ten_thousand_characters_are_split_on_line_boundaries_within_limits() -> None:
    text = "\n".join(f"{i:03d} {HOSTILE}" for i in range(160))
    assert len(text) > 10_000
    reply = Reply(text, buttons=((Button("Claim", "claim", 1),),))
    messages = render_messages(reply)
    assert len(messages) == 1
    parts = sections(messages[0])
    assert len(parts) > 3
    for m in messages:
        assert_within_limits(m)
    assert "\n".join(unescape(p) for p in parts) == text  # cut at line breaks only, nothing lost
    assert all(p.split("\n")[0][:3].isdigit() for p in parts)  # every part starts at a line


def test_a_single_long_line_is_cut_hard_but_never_inside_an_entity() -> None:
    line = "&<>" * 4000  # 12,000 characters → 36,000 escaped
    assert split_text("x") == ["x"]
    [message] = render_messages(Reply(line))
    parts = sections(message)
    assert len(parts) >= 12
    assert all(len(p) <= MAX_SECTION for p in parts)
    assert all(re.fullmatch(r"(&amp;|&lt;|&gt;)+", p) for p in parts)  # every cut between entities
    assert unescape("".join(parts)) == line


def test_a_link_in_rich_text_is_not_cut_in_half() -> None:
    text = "a" * (MAX_SECTION - 10) + "<https://kb.test/long/path|docs>tail"
    parts = split_text(text)
    assert parts == ["a" * (MAX_SECTION - 10), "<https://kb.test/long/path|docs>tail"]


def test_more_than_fifty_sections_become_several_messages_with_the_buttons_on_the_last() -> None:
    text = "\n".join("y" * (MAX_SECTION - 1) for _ in range(MAX_BLOCKS + 5))
    reply = Reply(text, buttons=((Button("Claim", "claim", 7), Button("Close", "close", 7)), (Button("L2", "escalate", 7, "L2"),)))
    messages = render_messages(reply)
    assert len(messages) == 2
    for m in messages:
        assert_within_limits(m)
    assert [m.has_buttons for m in messages] == [False, True]
    assert sum(len(sections(m)) for m in messages) == MAX_BLOCKS + 5
    assert [b["type"] for b in messages[-1].blocks[-2:]] == ["actions", "actions"]  # one block per row


def test_buttons_when_the_last_message_is_full_move_the_text_over() -> None:
    text = "\n".join("z" * (MAX_SECTION - 1) for _ in range(MAX_BLOCKS))  # exactly 50 sections
    messages = render_messages(Reply(text, buttons=((Button("Claim", "claim", 1),),)))
    assert len(messages) == 2 and [len(m.blocks) for m in messages] == [49, 2]
    for m in messages:
        assert_within_limits(m)


def test_buttons_carry_versioned_values_unique_action_ids_and_cut_labels() -> None:
    long_label = "Escalate to the second line: " + "x" * 60
    assert len(long_label) > MAX_BUTTON_TEXT
    reply = Reply("card", buttons=((Button("Claim ✋", "claim", 7), Button(long_label, "escalate", 7, "L2")),
                                   (Button("<b>&</b>", "close", 7),)))
    [message] = render_messages(reply)
    assert_within_limits(message)
    found = buttons(message)
    assert [e["action_id"] for e in found] == ["b0.0", "b0.1", "b1.0"]
    assert found[1]["text"]["text"].endswith("…") and len(found[1]["text"]["text"]) == MAX_BUTTON_TEXT
    assert found[2]["text"] == {"type": "plain_text", "text": "<b>&</b>", "emoji": True}  # plain_text: literal
    pressed = [decode(e["value"]) for e in found]
    assert [(p.action, p.ticket, p.value) for p in pressed if p] == [("claim", 7, None), ("escalate", 7, "L2"),
                                                                     ("close", 7, None)]
    assert button_text("  a\n b ") == "a b" and button_text("") == "…"


def test_a_row_of_thirty_buttons_takes_two_actions_blocks() -> None:
    row = tuple(Button(f"n{i}", "pick", None, str(i)) for i in range(30))
    [message] = render_messages(Reply("choose", buttons=(row,)))
    assert_within_limits(message)
    assert [len(b["elements"]) for b in message.blocks if b["type"] == "actions"] == [25, 5]


def test_buttons_without_text_still_get_a_fallback_text_and_an_empty_reply_nothing() -> None:
    [message] = render_messages(Reply("", buttons=((Button("<Yes>", "yes"),),)))
    assert [b["type"] for b in message.blocks] == ["actions"]
    assert message.text == "&lt;Yes&gt;"
    assert render_messages(Reply("  \n ")) == [] and render_single(Reply("")) is None


def test_a_card_for_update_is_one_message_cut_to_fit_beside_its_buttons() -> None:
    text = "\n".join("w" * (MAX_SECTION - 1) for _ in range(MAX_BLOCKS + 3))
    message = render_single(Reply(text, buttons=((Button("Claim", "claim", 1),),)))
    assert message is not None
    assert_within_limits(message)
    assert len(message.blocks) == MAX_BLOCKS and message.has_buttons
    assert sections(message)[-1].endswith("…")


def test_file_lines_link_the_permalink_with_an_escaped_name() -> None:
    assert file_line("<b>.png", "https://x.slack.com/files/U1/F1/b.png") == \
        "📎 <https://x.slack.com/files/U1/F1/b.png|&lt;b&gt;.png>"
    assert file_line("a&b.pdf", None) == "📎 a&amp;b.pdf"
    assert file_line("x", "https://t.slack.com/files/U1/F1/a <b>|c.png?x=1&y=2") == \
        "📎 <https://t.slack.com/files/U1/F1/a%20%3Cb%3E%7Cc.png?x=1&amp;y=2|x>"
    [message] = render_messages(Reply("see"), ["📎 x"])
    assert sections(message) == ["see\n📎 x"]


def test_rate_policy_is_one_message_per_second_per_channel() -> None:
    policy = slack_rate_policy()
    assert policy.for_chat("C0IT") == RateLimit(1, 1.0) and policy.for_chat("D0ANNA") == RateLimit(1, 1.0)
    assert is_dm("D0ANNA") and not is_dm("C0IT") and not is_dm("G0PRIV")
