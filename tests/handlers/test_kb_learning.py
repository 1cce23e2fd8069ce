"""Learning from resolved tickets, through the real engine and outbox on SQLite and
PostgreSQL: the resolved card's "Answered by" offer, who may choose, a double tap, drafts,
and the reload that makes the matcher use what was learned.

People (sample config): anna — employee; IT: boris L1, vera L2, gleb lead; HR: dina L1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app import build
from bot.config import Config
from handlers.events import Reply
from handlers.kb_learning import Offer, decorate
from handlers.texts import translator
from kb.articles import parse_article
from kb.matcher import Matcher
from store import kb_learning
from store.models import KbLearned, Ticket
from tests.kb.conftest import article_text
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender
from tests.support.scenarios import make_config, open_ticket, ticket_events

# The printer article does not answer it by its words (no suggestion, so it becomes a
# ticket), but it is the closest article: the resolved card offers it.
REQUEST = "the printer by the kitchen shows a red triangle"
PARAPHRASE = "red triangle on the printer near the kitchn"  # a typo on purpose
REPLY = "Open the side panel and pull out the jammed sheet, then press OK."


def write_kb(directory: Path) -> Path:
    directory.mkdir()
    (directory / "printer-en.md").write_text(article_text(
        title="Printer jammed", questions=("paper jam", "printer stuck"), tags=("printer",),
        body="Open the tray."), encoding="utf-8")
    (directory / "vpn-en.md").write_text(article_text(), encoding="utf-8")
    return directory


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "kb")


@pytest.fixture
def drafts(tmp_path: Path) -> Path:
    return tmp_path / "drafts"


@pytest.fixture
async def desk(db_url: str, clock: FakeClock, kb_dir: Path, drafts: Path) -> AsyncIterator[Desk]:
    def change(data: dict[str, Any]) -> None:
        data["desk"]["kb_dir"] = str(kb_dir)
        data["desk"]["kb_drafts_dir"] = str(drafts)

    config: Config = make_config(change)
    app = build(config, senders={"console": RecordingSender()}, database_url=db_url, clock=clock,
                kb=Matcher.from_dir(kb_dir))
    await app.start()
    try:
        yield await Desk.open(app)
    finally:
        await app.close()


def first(desk: Desk, text: str) -> str | None:
    found = desk.app.kb.search(text, limit=1)
    return found[0].slug if found else None


async def resolved_ticket(desk: Desk) -> int:
    assert first(desk, REQUEST) is None  # the KB has no answer yet: it becomes a ticket
    number = await open_ticket(desk, "anna", REQUEST)
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/reply {number} {REPLY}")
    await desk.say("boris", f"/resolve {number}")
    return number


async def learned_rows(desk: Desk) -> list[KbLearned]:
    async with desk.app.db.transaction() as s:
        return list(await s.exec(select(KbLearned).order_by(col(KbLearned.id))))


def answered_button(desk: Desk, who: str, number: int) -> Any:
    card = desk.last_with_buttons(who)
    assert card.ticket_id == number
    return next(b for b in card.buttons if b.action == "kb_answer" and b.value == "printer-en")


async def test_the_resolved_card_offers_the_closest_articles_and_a_draft(desk: Desk) -> None:
    number = await resolved_ticket(desk)
    card = desk.last_with_buttons("boris")
    assert card.edited and card.ticket_id == number
    labels = card.labels()
    assert labels[0] == "Ответ в статье: Printer jammed"  # boris reads Russian
    assert labels[-1] == "Сохранить ответ как статью"
    assert [b.action for b in card.buttons][-1] == "kb_draft"
    # the same offer for a reader of English
    reply = decorate(translator("en"), Reply("card"), Ticket(id=number, team="it", category="hardware",
                     priority="normal", requester_id=1, subject=REQUEST, platform="console"),
                     Offer((("printer-en", "Printer jammed"),), ()))
    assert [b.label for row in reply.buttons for b in row] == ["Answered by: Printer jammed",
                                                              "Answered by another article…",
                                                              "Save this answer as an article"]


async def test_choosing_stores_the_first_message_once(desk: Desk) -> None:
    number = await resolved_ticket(desk)
    button = answered_button(desk, "boris", number)
    await desk.click("boris", button.action, button.ticket_id, button.value, key="tap-1")
    await desk.click("boris", button.action, button.ticket_id, button.value, key="tap-1")  # redelivered
    await desk.click("boris", button.action, button.ticket_id, button.value, key="tap-2")  # double tap
    rows = await learned_rows(desk)
    assert [(r.slug, r.question, r.ticket_id) for r in rows] == [("printer-en", REQUEST, number)]
    told = [m.text for m in desk.received("boris") if m.text.startswith(f"#{number}:") or "уже сохранён" in m.text]
    assert any("сохранён как вопрос к статье «Printer jammed»" in t for t in told)
    assert any("уже сохранён" in t for t in told)
    card = desk.last_with_buttons("boris")
    assert "Ответ в статье: «Printer jammed»" in card.text
    assert card.labels()[0] == "✓ Ответ в статье: Printer jammed"
    assert [e.action for e in await ticket_events(desk, number)].count("kb_learned") == 1


async def test_only_staff_of_the_team_may_choose(desk: Desk) -> None:
    number = await resolved_ticket(desk)
    for who in ("anna", "dina"):  # the requester; an agent of another team
        await desk.click(who, "kb_answer", number, "printer-en")
    assert await learned_rows(desk) == []
    denied = [e.detail for e in await ticket_events(desk, number) if e.action == "denied"]
    assert len(denied) == 2 and all(d.startswith("kb_answer") for d in denied)  # type: ignore[union-attr]
    await desk.click("gleb", "kb_answer", number, "printer-en")  # the IT lead may
    assert len(await learned_rows(desk)) == 1


async def test_an_open_ticket_or_an_unknown_article_learns_nothing(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", REQUEST)
    await desk.say("boris", f"/take {number}")
    await desk.click("boris", "kb_answer", number, "printer-en")
    assert await learned_rows(desk) == []
    await desk.say("boris", f"/resolve {number}")
    await desk.click("boris", "kb_answer", number, "no-such-article")
    assert await learned_rows(desk) == []
    assert "no-such-article" in desk.last("boris").text or any(
        "no-such-article" in m.text for m in desk.received("boris"))


async def test_save_as_article_writes_a_valid_draft_and_never_overwrites(desk: Desk, drafts: Path) -> None:
    number = await resolved_ticket(desk)
    await desk.click("boris", "kb_draft", number)
    path = drafts / f"ticket-{number}.md"
    article = parse_article(path.stem, path.read_text(encoding="utf-8"), path.name)
    assert (article.title, article.lang, article.questions, article.body) == (REQUEST, "en", (REQUEST,), REPLY)
    assert any(str(path) in m.text for m in desk.received("boris"))
    # a reviewer edits it; a second tap says it exists and leaves it alone
    path.write_text(path.read_text(encoding="utf-8") + "\nReviewed.\n", encoding="utf-8")
    edited = path.read_text(encoding="utf-8")
    await desk.click("boris", "kb_draft", number)
    assert path.read_text(encoding="utf-8") == edited
    assert any("черновик уже есть" in m.text and str(path) in m.text for m in desk.received("boris"))
    # drafts are not part of the KB
    assert {a.slug for a in desk.app.kb.articles} == {"printer-en", "vpn-en"}  # type: ignore[attr-defined]
    assert [e.action for e in await ticket_events(desk, number)].count("kb_draft") == 1
    # a non-agent cannot write one
    other = drafts / "ticket-999.md"
    await desk.click("anna", "kb_draft", number)
    assert sorted(p.name for p in drafts.iterdir()) == [path.name] and not other.exists()


async def test_reload_request_makes_the_matcher_use_learned_questions(desk: Desk) -> None:
    number = await resolved_ticket(desk)
    button = answered_button(desk, "boris", number)
    await desk.click("boris", button.action, button.ticket_id, button.value)
    reloader = desk.app.kb_reloader
    assert reloader is not None
    assert await reloader.poll_once() is False  # learned, but nothing asked for a reload yet
    assert first(desk, REQUEST) is None
    async with desk.app.db.transaction() as s:
        await kb_learning.request_reload(s, desk.app.engine.clock())
    assert await reloader.poll_once() is True
    assert first(desk, REQUEST) == "printer-en"
    assert first(desk, PARAPHRASE) == "printer-en"
    assert await reloader.poll_once() is False  # the same request is applied once


async def test_a_restart_starts_with_the_learned_questions(desk: Desk, db_url: str, clock: FakeClock,
                                                           kb_dir: Path) -> None:
    number = await resolved_ticket(desk)
    await desk.click("boris", "kb_answer", number, "printer-en")
    again = build(desk.app.config, senders={"console": RecordingSender()}, database_url=db_url, clock=clock,
                  kb=Matcher.from_dir(kb_dir))
    await again.start()
    try:
        found = again.kb.search(REQUEST, limit=1)
        assert [s.slug for s in found] == ["printer-en"]
    finally:
        await again.close()


async def test_the_poll_rebuilds_when_an_article_file_changes(desk: Desk, kb_dir: Path) -> None:
    reloader = desk.app.kb_reloader
    assert reloader is not None
    assert await reloader.poll_once() is False
    (kb_dir / "wifi-en.md").write_text(article_text(
        title="Wi-Fi keeps dropping", questions=("wifi drops every minute",), tags=("wifi",),
        body="Forget the network and join again."), encoding="utf-8")
    assert await reloader.poll_once() is True
    assert first(desk, "wifi drops every minute") == "wifi-en"


async def test_no_save_button_without_an_agent_reply(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", REQUEST)
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/resolve {number}")
    card = desk.last_with_buttons("boris")
    assert card.ticket_id == number
    assert [b.action for b in card.buttons] == ["kb_answer", "kb_pick"]  # the offer, nothing to save yet
    await desk.click("boris", "kb_draft", number)  # a forged press is answered, writes nothing
    assert "нет ответа сотрудника" in desk.last("boris").text or any(
        "нет ответа сотрудника" in m.text for m in desk.received("boris"))


def test_offered_buttons_fit_telegram_and_slack() -> None:
    from bot.slack.actions import decode as slack_decode, encode as slack_encode
    from bot.telegram.callbacks import MAX_BYTES, decode, encode
    from handlers.events import Button
    from handlers.kb_learning import ANSWERED, MAX_SLUG_BYTES

    slug = "a" * MAX_SLUG_BYTES
    button = Button("Answered by: x", ANSWERED, 9_999_999_999, slug)
    data = encode(button)
    assert len(data.encode()) <= MAX_BYTES
    for decoded in (decode(data), slack_decode(slack_encode(button))):
        assert decoded is not None and (decoded.action, decoded.ticket, decoded.value) == (ANSWERED, 9_999_999_999, slug)


async def test_a_slug_too_long_for_a_button_is_not_offered(db_url: str, clock: FakeClock, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    kb = write_kb(tmp_path / "kb")
    long_slug = "printer-" + "x" * 40
    (kb / "printer-en.md").rename(kb / f"{long_slug}.md")
    app = build(make_config(), senders={"console": RecordingSender()}, database_url=db_url, clock=clock,
                kb=Matcher.from_dir(kb))
    await app.start()
    try:
        desk = await Desk.open(app)
        number = await open_ticket(desk, "anna", REQUEST)
        await desk.say("boris", f"/take {number}")
        await desk.say("boris", f"/reply {number} {REPLY}")
        await desk.say("boris", f"/resolve {number}")
        card = desk.last_with_buttons("boris")
        assert [b.action for b in card.buttons] == ["kb_pick", "kb_draft"]
        assert long_slug in caplog.text
    finally:
        await app.close()


def test_the_offer_renders_on_telegram_and_slack() -> None:
    """The neutral buttons become Telegram inline buttons and Slack Block Kit buttons whose
    references decode back to the same action, ticket and slug."""
    from bot.slack.actions import decode as slack_decode
    from bot.slack.blocks import render_single
    from bot.telegram.callbacks import decode
    from bot.telegram.sender import keyboard

    ticket = Ticket(id=42, team="it", category="hardware", priority="normal", requester_id=1,
                    subject=REQUEST, platform="telegram")
    long_title = "Принтер не печатает, зажевал бумагу, мигает красным или просит тонер — что делать"
    offer = Offer((("printer-ru", long_title), ("vpn-connect-ru", "Не работает VPN")),
                  (("vpn-connect-ru", "Не работает VPN"),))
    reply = decorate(translator("ru"), Reply("#42 карточка"), ticket, offer)
    assert "Ответ в статье: «Не работает VPN»" in reply.text
    expected = [("kb_answer", 42, "printer-ru"), ("kb_answer", 42, "vpn-connect-ru"), ("kb_pick", 42, "0"),
                ("kb_draft", 42, None)]

    markup = keyboard(reply)
    assert markup is not None
    tg = [b for row in markup.inline_keyboard for b in row]
    assert [b.text.startswith(("Ответ в статье: Принтер", "✓ Ответ в статье: Не работает VPN",
                               "Ответ в другой статье…", "Сохранить"))
            for b in tg] == [True, True, True, True]
    assert tg[1].text == "✓ Ответ в статье: Не работает VPN"
    decoded = [decode(b.callback_data) for b in tg]
    assert [(d.action, d.ticket, d.value) for d in decoded if d] == expected

    message = render_single(reply)
    assert message is not None
    elements = [e for block in message.blocks if block["type"] == "actions" for e in block["elements"]]
    assert all(len(e["text"]["text"]) <= 75 for e in elements)
    decoded = [slack_decode(e["value"]) for e in elements]
    assert [(d.action, d.ticket, d.value) for d in decoded if d] == expected


async def test_two_taps_at_once_store_one_row(desk: Desk) -> None:
    import asyncio

    number = await resolved_ticket(desk)
    taps = [desk.app.engine.handle(_press("boris", number, key)) for key in ("both-1", "both-2")]
    outcomes = await asyncio.gather(*taps)
    while await desk.app.worker.deliver_pending():
        pass
    assert not any(o.duplicate for o in outcomes)
    assert [(r.slug, r.ticket_id) for r in await learned_rows(desk)] == [("printer-en", number)]
    assert sum("уже сохранён" in m.text for m in desk.received("boris")) == 1


def _press(who: str, number: int, key: str) -> Any:
    from handlers.events import Incoming

    return Incoming(platform="console", chat_id=who, user_id=who, event_key=key, action="kb_answer",
                    ticket_id=number, value="printer-en")


# --- a request the offer misses: "Another article…" and /answered -----------------------

# Shares no word with either article (nor a near spelling): the card offers nothing, which
# is exactly the request learning is for.
UNRELATED = "the big machine next to my monitor eats my sheets"


async def resolved(desk: Desk, text: str) -> int:
    number = await open_ticket(desk, "anna", text)
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/resolve {number}")
    return number


async def test_another_article_learns_a_request_the_offer_missed(desk: Desk) -> None:
    assert first(desk, UNRELATED) is None
    number = await resolved(desk, UNRELATED)
    card = desk.last_with_buttons("boris")
    assert card.ticket_id == number
    assert [b.action for b in card.buttons] == ["kb_pick"]  # nothing close enough to offer
    pick = card.buttons[0]
    await desk.click("boris", pick.action, pick.ticket_id, pick.value)
    page = desk.last_with_buttons("boris")
    assert page.text.startswith(f"#{number}:") and "/answered" in page.text
    assert [(b.action, b.value) for b in page.buttons] == [("kb_answer", "printer-en"), ("kb_answer", "vpn-en")]
    assert page.labels() == ["Printer jammed", "VPN does not connect"]
    await desk.click("boris", "kb_answer", number, "printer-en")
    assert [(r.slug, r.question) for r in await learned_rows(desk)] == [("printer-en", UNRELATED)]
    async with desk.app.db.transaction() as s:
        await kb_learning.request_reload(s, desk.app.engine.clock())
    reloader = desk.app.kb_reloader
    assert reloader is not None and await reloader.poll_once() is True
    assert first(desk, UNRELATED) == "printer-en"
    assert first(desk, "the big machine next to my monitr eats my sheets") == "printer-en"  # with a typo


@pytest.fixture
def big_kb(tmp_path: Path) -> Path:
    directory = tmp_path / "big"
    directory.mkdir()
    for i in range(11):
        (directory / f"topic-{i:02d}-en.md").write_text(article_text(
            title=f"Topic {i:02d}", questions=(f"question about subject{i}",), tags=(f"t{i}",),
            body="Body."), encoding="utf-8")
    (directory / "topic-ru.md").write_text(article_text(
        title="Тема по-русски", lang="ru", questions=("вопрос о предмете",), tags=("тема",),
        body="Текст."), encoding="utf-8")
    return directory


async def test_the_article_list_pages_in_the_readers_language_first(db_url: str, clock: FakeClock,
                                                                     big_kb: Path) -> None:
    app = build(make_config(), senders={"console": RecordingSender()}, database_url=db_url, clock=clock,
                kb=Matcher.from_dir(big_kb))
    await app.start()
    try:
        desk = await Desk.open(app)
        number = await resolved(desk, UNRELATED)
        await desk.click("boris", "kb_pick", number, "0")  # boris reads Russian
        page = desk.last_with_buttons("boris")
        assert "страница 1 из 2" in page.text
        assert page.labels()[0] == "Тема по-русски"
        assert [b.action for b in page.buttons] == ["kb_answer"] * 8 + ["kb_pick"]
        more = page.buttons[-1]
        assert (more.label, more.value) == ("Ещё статьи…", "1")
        await desk.click("boris", more.action, more.ticket_id, more.value)
        page2 = desk.last_with_buttons("boris")
        assert "страница 2 из 2" in page2.text
        assert [b.value for b in page2.buttons] == [f"topic-{i:02d}-en" for i in (7, 8, 9, 10)]
        seen = {b.value for b in page.buttons[:-1]} | {b.value for b in page2.buttons}
        assert seen == {a.slug for a in app.kb.articles}  # type: ignore[attr-defined]
        for bad in ("99", "-1", "x", "٣"):  # past the end: the last page; garbage: the first
            await desk.click("boris", "kb_pick", number, bad)
            assert ("страница 2 из 2" if bad == "99" else "страница 1 из 2") in desk.last_with_buttons("boris").text
        assert await learned_rows(desk) == []  # paging chooses nothing
        card_before = len([m for m in desk.received("boris") if m.edited])
        await desk.click("boris", "kb_pick", number, "0")
        assert len([m for m in desk.received("boris") if m.edited]) == card_before  # the card is left alone
    finally:
        await app.close()


async def test_the_article_list_is_for_staff_of_a_resolved_ticket_only(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", UNRELATED)
    await desk.say("boris", f"/take {number}")
    before = len(desk.received("boris"))
    await desk.click("boris", "kb_pick", number, "0")  # still open
    assert not any(b.action == "kb_answer" for m in desk.received("boris")[before:] for b in m.buttons)
    await desk.say("boris", f"/resolve {number}")
    for who in ("anna", "dina"):
        mark = len(desk.received(who))
        await desk.click(who, "kb_pick", number, "0")
        assert not any(b.action == "kb_answer" for m in desk.received(who)[mark:] for b in m.buttons)
    denied = [e.detail for e in await ticket_events(desk, number) if e.action == "denied"]
    assert len(denied) == 2 and all(d.startswith("kb_pick") for d in denied)  # type: ignore[union-attr]


async def test_answered_command_searches_the_kb_or_takes_a_slug(desk: Desk) -> None:
    number = await resolved(desk, UNRELATED)
    await desk.say("boris", f"/answered {number} printer")  # words: the closest articles as buttons
    found = desk.last_with_buttons("boris")
    assert "«printer»" in found.text
    assert [(b.action, b.ticket_id, b.value) for b in found.buttons][0] == ("kb_answer", number, "printer-en")
    assert await learned_rows(desk) == []  # searching chooses nothing
    await desk.say("boris", f"/answered {number} zzzqqq")
    assert "zzzqqq" in desk.last("boris").text and "статей нет" in desk.last("boris").text
    await desk.say("boris", f"/answered #{number}  vpn-en ")  # a slug: chosen at once
    assert [(r.slug, r.question) for r in await learned_rows(desk)] == [("vpn-en", UNRELATED)]
    assert "сохранён как вопрос к статье «VPN does not connect»" in " ".join(m.text for m in desk.received("boris"))
    card = desk.last_with_buttons("boris")
    assert card.edited and "Ответ в статье: «VPN does not connect»" in card.text


async def test_answered_command_checks_usage_staff_and_status(desk: Desk) -> None:
    for bad in ("/answered", "/answered 5", "/answered five printer"):
        await desk.say("boris", bad)
        assert "/answered N слова" in desk.last("boris").text
    number = await open_ticket(desk, "anna", UNRELATED)
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/answered {number} printer-en")  # not resolved yet
    await desk.say("boris", f"/resolve {number}")
    await desk.say("dina", f"/answered {number} printer-en")  # another team's agent
    await desk.say("anna", f"/answered {number} printer-en")  # the requester
    assert await learned_rows(desk) == []
    await desk.say("gleb", f"/answered {number} printer-en")  # the team's lead may
    assert [r.slug for r in await learned_rows(desk)] == ["printer-en"]
