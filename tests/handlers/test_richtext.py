"""KB Markdown → neutral rich text → plain text; raw Markdown never reaches a user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from bot.app import build
from handlers import richtext
from bot.config import Config
from handlers.events import Reply
from handlers.richtext import BULLETS, CODE, HEADING, NUMBERS, article, from_data, parse_markdown, to_data, to_plain
from kb.articles import Article, default_kb_dir, load_articles
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender
from tests.support.scenarios import outbox_rows

ARTICLES = load_articles(default_kb_dir())
MARKUP = ("**", "__", "`", "](", "\n#", "<b>")


def test_parser_keeps_marks_and_structure() -> None:
    rich = parse_markdown("# Title\n\nSay **hi** to *you* with `code` at [site](https://x.test).\n\n"
                          "- one\n- two\n\n3. three\n4. four\n\n```\nrun me\n```\n")
    assert [b.kind for b in rich] == [HEADING, "paragraph", BULLETS, NUMBERS, CODE]
    spans = rich[1].spans
    assert [(s.text, s.bold, s.italic, s.code, s.link) for s in spans] == [
        ("Say ", False, False, False, None), ("hi", True, False, False, None), (" to ", False, False, False, None),
        ("you", False, True, False, None), (" with ", False, False, False, None), ("code", False, False, True, None),
        (" at ", False, False, False, None), ("site", False, False, False, "https://x.test"), (".", False, False, False, None),
    ]
    assert rich[3].start == 3
    assert to_plain(rich) == ("Title\n\nSay hi to you with code at site (https://x.test).\n\n• one\n• two\n\n"
                              "3. three\n4. four\n\nrun me")


def test_rich_text_survives_the_outbox_payload() -> None:
    rich = article("T", "**a** [b](https://b.test)\n\n1. x\n2. y")
    assert from_data(to_data(rich)) == rich
    reply = Reply(to_plain(rich), rich=rich)
    assert Reply.from_payload(reply.to_payload()) == reply
    # a payload written before the field existed still loads
    assert Reply.from_payload({"text": "hi", "buttons": []}) == Reply("hi")
    assert "rich" not in Reply("hi").to_payload()


@pytest.mark.parametrize("item", ARTICLES, ids=[a.slug for a in ARTICLES])
def test_no_bundled_article_shows_markdown_syntax_in_plain_text(item: Article) -> None:
    plain = to_plain(article(item.title, item.body))
    assert not any(mark in plain for mark in MARKUP), plain


@dataclass(frozen=True)
class _Suggestion:
    slug: str
    title: str
    score: float


class BundledKb:
    """The real bundled articles; any text suggests the first one."""

    def search(self, text: str, limit: int = 3, *, lang: str | None = None) -> Sequence[_Suggestion]:
        return [_Suggestion(ARTICLES[0].slug, ARTICLES[0].title, 0.9)]

    def article(self, slug: str) -> Article | None:
        return next((a for a in ARTICLES if a.slug == slug), None)

    def record_feedback(self, query: str, slug: str, solved: bool) -> None:
        pass


async def test_every_bundled_article_reaches_the_requester_without_markdown(
    config: Config, sqlite_url: str, clock: FakeClock
) -> None:
    app = build(config, senders={"console": RecordingSender()}, database_url=sqlite_url, clock=clock, kb=BundledKb())
    await app.start()
    try:
        desk = await Desk.open(app)
        await desk.say("anna", "как оформить командировку")
        for item in ARTICLES:
            desk.new("anna")
            await desk.click("anna", "kb_open", value=item.slug)
            [msg] = desk.new("anna")
            assert msg.text.startswith(item.title + "\n\n")
            assert not any(mark in msg.text for mark in MARKUP), (item.slug, msg.text)
        payloads = [row.payload for row in await outbox_rows(desk) if "rich" in row.payload]
        # every opened article, plus the suggestion message (intro and previews) before them
        assert [p["rich"][0]["kind"] for p in payloads] == ["paragraph"] + ["heading"] * len(ARTICLES)
        assert not any(mark in payloads[0]["text"] for mark in MARKUP)
    finally:
        await app.close()


# --- previews (the suggestion message) ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Use **Authenticator** on `your phone`. Then sign in.", "Use Authenticator on your phone."),
        ("See [the wiki](https://w.example/x)! It has it all.", "See the wiki!"),
        ("# Heading\n\n```\ncode first\n```\n\nThe answer is here.", "The answer is here."),
        ("Pay in 2.5 days via v1.2 form", "Pay in 2.5 days via v1.2 form"),
        ("Steps:\n\n1. Open the portal\n2. Click *Reset*", "Steps: Open the portal Click Reset"),
        ("Версия 2. Откройте портал. Готово.", "Версия 2. Откройте портал."),
    ],
)
def test_preview_is_the_first_sentence_without_markup(body: str, expected: str) -> None:
    assert richtext.preview(body) == expected


def test_preview_of_a_long_sentence_is_cut_at_a_word() -> None:
    body = "A " + "verylongword " * 30 + "end."
    out = richtext.preview(body, limit=60)
    assert len(out) <= 60 and out.endswith("…")
    assert out[:-1].split()[-1] == "verylongword"  # no half word before the ellipsis


def test_suggestions_message_has_bold_titles_and_previews() -> None:
    rich = richtext.suggestions("Maybe:", [("VPN", "Restart it."), ("Wi-Fi", "")])
    assert richtext.to_plain(rich) == "Maybe:\n\n• VPN — Restart it.\n• Wi-Fi"
    assert rich[1].items[0][0] == richtext.Span("VPN", bold=True)
    assert richtext.from_data(richtext.to_data(rich)) == rich  # survives the outbox payload
