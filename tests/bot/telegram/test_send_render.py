"""Rendering for sending: long texts cut into well-formed parts, topic names, rate policy."""

from __future__ import annotations

from html import escape

import pytest

from bot.delivery import RateLimit
from bot.telegram.render import MAX_MESSAGE, split_html, telegram_length, to_html, visible_text
from bot.telegram.sender import render_parts, telegram_rate_policy, topic_name
from handlers.events import Reply
from handlers.richtext import parse_markdown

HOSTILE_LINE = "<b> </a> &amp; 😀 \u200fשלום\u200e x"


def test_short_text_is_one_part_unchanged() -> None:
    assert split_html("<b>hi</b> &amp; bye") == ["<b>hi</b> &amp; bye"]


def test_cuts_at_the_last_line_break_that_fits_and_reopens_tags() -> None:
    assert split_html("<b>hello\nworld</b>\nmore", 12) == ["<b>hello\nworld</b>", "more"]
    assert split_html("<b>hello\nworld</b>", 8) == ["<b>hello</b>", "<b>world</b>"]


def test_a_line_longer_than_the_limit_is_cut_hard() -> None:
    assert split_html("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_a_character_reference_is_never_cut() -> None:
    parts = split_html("a&amp;&lt;b", 2)
    assert parts == ["a&amp;", "&lt;b"]


def test_an_emoji_counts_as_two_like_telegram_and_is_not_cut() -> None:
    assert telegram_length("😀") == 2
    assert split_html("😀😀😀", 4) == ["😀😀", "😀"]


def test_a_code_block_cut_in_two_stays_two_code_blocks() -> None:
    parts = split_html(to_html(parse_markdown("```\n" + "\n".join(f"line {i}" for i in range(10)) + "\n```")), 30)
    assert len(parts) > 1
    assert all(p.startswith("<pre>") and p.endswith("</pre>") for p in parts)


def test_ten_thousand_hostile_characters_survive_the_split_intact() -> None:
    text = "\n".join(f"{i:04d} {HOSTILE_LINE}" for i in range(400))
    assert len(text) > 10_000
    parts = render_parts(Reply(text))
    sizes = [telegram_length(visible_text(p)) for p in parts]
    assert len(parts) == 4 and all(MAX_MESSAGE - 40 < n <= MAX_MESSAGE for n in sizes[:-1]), sizes
    assert "\n".join(visible_text(p) for p in parts) == text
    assert all("<b>" not in p for p in parts)  # the user's "<b>" is text, never a tag


def test_one_huge_line_is_cut_hard_and_nothing_is_lost() -> None:
    text = "x" * 10_000
    parts = render_parts(Reply(text))
    assert [len(p) for p in parts] == [4096, 4096, 1808]


def test_rich_text_parts_are_rendered_from_the_markup() -> None:
    md = "\n\n".join(f"**Step {i}**: run `cmd {i} <x>` and see [docs](https://x.test/?a={i}&b=2)" for i in range(200))
    parts = render_parts(Reply("plain", rich=parse_markdown(md)))
    assert len(parts) > 1
    for part in parts:
        assert part.count("<b>") == part.count("</b>") and part.count("<a ") == part.count("</a>")
        assert telegram_length(visible_text(part)) <= MAX_MESSAGE
    assert "&lt;x&gt;" in parts[0]


def test_parts_with_nothing_visible_are_dropped() -> None:
    assert split_html("\n\n\n", 2) == []
    assert render_parts(Reply("")) == []


@pytest.mark.parametrize(("subject", "expected"), [
    ("VPN не работает", "#12 VPN не работает"),
    ("two\nlines  and\ttabs", "#12 two lines and tabs"),
    ("", "#12"),
])
def test_topic_name_is_number_and_subject_on_one_line(subject: str, expected: str) -> None:
    assert topic_name(12, subject) == expected


def test_topic_name_fits_128_characters() -> None:
    name = topic_name(12345, "😀" * 200)
    assert telegram_length(name) <= 128 and name.startswith("#12345 😀") and name.endswith("…")


def test_rate_policy_follows_telegram_limits() -> None:
    policy = telegram_rate_policy()
    assert policy.overall == RateLimit(30, 1.0)
    assert policy.for_chat("12345") == RateLimit(1, 1.0)
    assert policy.for_chat("-1001234") == RateLimit(20, 60.0)


def test_plain_text_is_escaped_for_html() -> None:
    assert render_parts(Reply("<b>x</b> &amp;")) == [escape("<b>x</b> &amp;", quote=False)]
