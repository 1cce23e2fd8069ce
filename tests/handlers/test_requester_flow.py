"""The requester state machine (``handlers/requester.py``), one transition at a time.

Every test drives the real engine and outbox on SQLite through the :class:`Desk`
driver, with a tiny fake knowledge base so that what is suggested does not depend
on the real matcher's tuning. Assertions are on what the requester was told and on
the persisted ``Conversation.state`` / ``data``.

Transitions covered (see the module docstring of ``handlers.requester`` and
``FLOW_ACTIONS``):

    idle ──text, KB hits──▶ suggest            idle ──text, no hit──▶ category_confirm | category_choose
    suggest ──kb_open──▶ article               suggest/article ──open_ticket──▶ category_*
    article ──kb_solved──▶ idle (deflection)   article ──kb_more──▶ category_*
    category_confirm ──cat_ok | cat──▶ [priority] ──▶ [duplicate] ──▶ idle (ticket)
    category_confirm ──cat_list──▶ category_choose ──cat──▶ …
    priority ──prio──▶ …                       duplicate ──dup_add | dup_new──▶ idle
    reply button ──▶ compose ──text──▶ idle    any state ──/cancel──▶ idle
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app import App, build
from bot.config import Config
from handlers import requester as rq
from handlers.texts import t
from store import conversations, tickets
from store.models import KbFeedback, MessageKind, Person, Status, Ticket, TicketMessage
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender

ANNA = "anna"


def ru(key: str, **values: Any) -> str:
    return t(key, "ru", **values)


def en(key: str, **values: Any) -> str:
    return t(key, "en", **values)


# --- a knowledge base that answers by keyword -------------------------------------------


@dataclass(frozen=True)
class FakeArticle:
    slug: str
    title: str
    body: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class FakeSuggestion:
    slug: str
    title: str
    score: float


@dataclass
class FakeKb:
    """Implements ``handlers.ports.KnowledgeBase``: an article is suggested when one of
    its keywords occurs in the request. ``record_feedback`` remembers each call together
    with the KB outcomes already *committed* to the database at that moment (read by a
    separate SQLite connection), which shows whether it ran after the commit."""

    articles: tuple[FakeArticle, ...]
    db_path: str | None = None
    feedback: list[tuple[str, str, bool]] = field(default_factory=list)
    committed_at_feedback: list[list[str]] = field(default_factory=list)

    def search(self, text: str, limit: int = 3, *, lang: str | None = None) -> Sequence[FakeSuggestion]:
        low = text.lower()
        hits = [a for a in self.articles if any(k in low for k in a.keywords)]
        return [FakeSuggestion(a.slug, a.title, 0.9) for a in hits[:limit]]

    def article(self, slug: str) -> FakeArticle | None:
        return next((a for a in self.articles if a.slug == slug), None)

    def record_feedback(self, query: str, slug: str, solved: bool) -> None:
        self.feedback.append((query, slug, solved))
        if self.db_path is not None:
            with closing(sqlite3.connect(self.db_path)) as conn:
                rows = conn.execute("SELECT outcome FROM kb_feedback ORDER BY id").fetchall()
            self.committed_at_feedback.append([r[0] for r in rows])


VPN_FIX = FakeArticle("vpn-fix", "VPN не подключается", "Перезапустите клиент VPN.", ("vpn", "впн"))
VPN_PHONE = FakeArticle("vpn-phone", "VPN на телефоне", "Поставьте приложение из каталога.", ("vpn",))
REPORT = FakeArticle("report-export", "Как выгрузить отчёт", "Меню → Отчёты → Выгрузить.", ("отчёт",))

CATEGORY_TITLES_RU = [
    "Доступы и учётные записи", "VPN и сеть", "Оборудование и принтеры",
    "Программы и почта", "Бизнес-системы (CRM, 1С)", "Отпуск и больничный", "Зарплата и справки",
    "Приём и адаптация", "Расходы и оплаты", "Закупки", "Договоры и юридические вопросы",
    "Расходные материалы и канцелярия", "Офис и хозяйственные вопросы",
    "Другое",  # desk.fallback_category: always offered, last
]
PRIORITY_TITLES_RU = ["Низкий", "Обычный", "Высокий", "Срочный"]


@pytest.fixture
def kb() -> FakeKb:
    return FakeKb((VPN_FIX, VPN_PHONE, REPORT))


MakeDesk = Callable[..., Awaitable[Desk]]


@pytest.fixture
async def make_desk(config: Config, tmp_path: Path, clock: FakeClock, kb: FakeKb) -> AsyncIterator[MakeDesk]:
    """Build a started desk on a fresh SQLite file with the fake KB; ``desk`` settings
    (e.g. ``ask_priority=True``) override the sample config's."""
    apps: list[App] = []

    async def make(**desk_settings: Any) -> Desk:
        conf = config
        if desk_settings:
            conf = config.model_copy(update={"desk": config.desk.model_copy(update=desk_settings)})
        path = tmp_path / f"flow{len(apps)}.db"
        app = build(conf, senders={"console": RecordingSender()}, database_url=f"sqlite+aiosqlite:///{path}",
                    clock=clock, kb=kb)
        apps.append(app)
        await app.start()
        kb.db_path = str(path)
        return await Desk.open(app)

    yield make
    for app in apps:
        await app.close()


@pytest.fixture
async def desk(make_desk: MakeDesk) -> Desk:
    """This module's desk: SQLite, sample config, fake KB."""
    return await make_desk()


# --- reading the persisted state ------------------------------------------------------------


async def conv_of(desk: Desk, who: str = ANNA) -> tuple[str, dict[str, Any]]:
    async with desk.app.db.transaction() as s:
        conv = await conversations.load(s, "console", who, who)
        return conv.state, dict(conv.data)


async def all_tickets(desk: Desk) -> list[Ticket]:
    async with desk.app.db.transaction() as s:
        return list(await s.exec(select(Ticket).order_by(col(Ticket.id))))


async def feedback_rows(desk: Desk) -> list[tuple[str | None, str, int | None]]:
    async with desk.app.db.transaction() as s:
        rows = await s.exec(select(KbFeedback).order_by(col(KbFeedback.id)))
        return [(r.slug, r.outcome, r.ticket_id) for r in rows]


async def message_count(desk: Desk) -> int:
    async with desk.app.db.transaction() as s:
        return len(list(await s.exec(select(TicketMessage))))


def texts(desk: Desk, who: str = ANNA) -> list[str]:
    return [m.text for m in desk.new(who)]


# --- drivers: bring anna's conversation into a given state ---------------------------------


async def to_suggest(desk: Desk) -> None:
    await desk.say(ANNA, "не работает VPN")


async def to_article(desk: Desk) -> None:
    await to_suggest(desk)
    await desk.press(ANNA, "VPN не подключается")


async def to_category_confirm(desk: Desk) -> None:
    await to_suggest(desk)
    await desk.press(ANNA, "Создать заявку")


async def to_category_choose(desk: Desk) -> None:
    await to_category_confirm(desk)
    await desk.press(ANNA, "Другая категория")


async def to_priority(desk: Desk) -> None:  # needs a desk with ask_priority: true
    await to_category_confirm(desk)
    await desk.press(ANNA, "Да")


async def file_vpn_ticket(desk: Desk) -> None:
    await to_category_confirm(desk)
    await desk.press(ANNA, "Да")


async def to_duplicate(desk: Desk) -> None:
    await file_vpn_ticket(desk)
    await desk.say(ANNA, "опять не работает VPN")
    await desk.press(ANNA, "Создать заявку")
    await desk.press(ANNA, "Да")


async def to_compose(desk: Desk) -> None:
    await file_vpn_ticket(desk)
    await desk.say("boris", "/reply 1 Переустановите клиент")
    await desk.press(ANNA, "Ответить")


async def to_form(desk: Desk) -> None:  # business_apps asks "Which system?" first
    await desk.say(ANNA, "падает CRM")
    await desk.press(ANNA, "Да")


async def at_idle(desk: Desk) -> None:
    return None


async def to_which(desk: Desk) -> None:
    await file_vpn_ticket(desk)
    await desk.say(ANNA, "сломался принтер")
    await desk.press(ANNA, "Да")
    await desk.say(ANNA, "а можно узнать сроки?")


async def to_reopen_offer(desk: Desk) -> None:
    await file_vpn_ticket(desk)
    await desk.say("boris", "/take 1")
    await desk.say("boris", "/resolve 1")
    await desk.say(ANNA, "не помогло")


REACH: dict[str, Callable[[Desk], Awaitable[None]]] = {
    rq.IDLE: at_idle,
    rq.SUGGEST: to_suggest,
    rq.ARTICLE: to_article,
    rq.CATEGORY_CONFIRM: to_category_confirm,
    rq.CATEGORY_CHOOSE: to_category_choose,
    rq.PRIORITY: to_priority,
    rq.DUPLICATE: to_duplicate,
    rq.COMPOSE: to_compose,
    rq.WHICH: to_which,
    rq.REOPEN_OFFER: to_reopen_offer,
    rq.FORM: to_form,
}


async def desk_in(make_desk: MakeDesk, state: str) -> Desk:
    desk = await make_desk(ask_priority=True) if state == rq.PRIORITY else await make_desk()
    await REACH[state](desk)
    assert (await conv_of(desk))[0] == state
    desk.new(ANNA)
    return desk


def test_reach_table_covers_every_state() -> None:
    assert set(REACH) == set(rq.STATES)


# --- idle → suggest / category ------------------------------------------------------------------


async def test_text_with_kb_hits_offers_articles_and_open_ticket(desk: Desk) -> None:
    await desk.say(ANNA, "не работает VPN")

    [msg] = desk.new(ANNA)
    assert msg.text == (
        ru("suggest_intro") + "\n\n"
        "• VPN не подключается — Перезапустите клиент VPN.\n"
        "• VPN на телефоне — Поставьте приложение из каталога."
    )
    assert msg.labels() == ["VPN не подключается", "VPN на телефоне", "Создать заявку"]
    assert [(b.action, b.value) for b in msg.buttons] == [
        ("kb_open", "vpn-fix"), ("kb_open", "vpn-phone"), ("open_ticket", None)
    ]
    state, data = await conv_of(desk)
    assert state == rq.SUGGEST
    assert (data["query"], data["slugs"]) == ("не работает VPN", ["vpn-fix", "vpn-phone"])
    assert await feedback_rows(desk) == [("vpn-fix", "shown", None), ("vpn-phone", "shown", None)]
    assert await all_tickets(desk) == []


async def test_text_without_kb_hit_goes_to_category_and_records_a_gap_when_filed(desk: Desk) -> None:
    await desk.say(ANNA, "не печатает принтер на 3 этаже")

    [msg] = desk.new(ANNA)
    assert msg.text == ru("ask_category_guess", category="Оборудование и принтеры")
    assert msg.labels() == ["Да, Оборудование и принтеры", "Другая категория"]
    state, data = await conv_of(desk)
    assert (state, data["category"], data["gap"]) == (rq.CATEGORY_CONFIRM, "hardware", True)
    assert await feedback_rows(desk) == []  # a gap is recorded only when a ticket is filed

    await desk.press(ANNA, "Да")

    [ticket] = await all_tickets(desk)
    assert (ticket.category, ticket.team) == ("hardware", "it")
    assert await feedback_rows(desk) == [(None, "gap", ticket.id)]
    assert (await conv_of(desk))[0] == rq.IDLE


async def test_text_without_kb_hit_or_category_guess_asks_to_choose(desk: Desk) -> None:
    await desk.say(ANNA, "у меня вопрос")

    [msg] = desk.new(ANNA)
    assert msg.text == ru("ask_category")
    assert msg.labels() == CATEGORY_TITLES_RU
    assert (await conv_of(desk))[0] == rq.CATEGORY_CHOOSE

    await desk.press(ANNA, "Зарплата и справки")

    [ticket] = await all_tickets(desk)
    assert (ticket.category, ticket.team) == ("payroll", "hr")
    assert await feedback_rows(desk) == [(None, "gap", ticket.id)]


# --- suggest → article → idle / category ---------------------------------------------------------


async def test_opening_a_suggestion_shows_the_article(desk: Desk) -> None:
    await to_suggest(desk)
    desk.new(ANNA)

    await desk.press(ANNA, "VPN не подключается")

    [msg] = desk.new(ANNA)
    assert msg.text == "VPN не подключается\n\nПерезапустите клиент VPN."
    assert msg.labels() == ["Это помогло", "Всё ещё нужна помощь"]
    state, data = await conv_of(desk)
    assert (state, data["slug"]) == (rq.ARTICLE, "vpn-fix")
    assert ("vpn-fix", "opened", None) in await feedback_rows(desk)


MARKDOWN_BODY = (
    "Restart the **GlobalProtect** client: see [the guide](https://wiki.example.com/vpn) "
    "and run `vpn --reset`. Then sign in again.\n\n"
    "1. Quit the client\n2. Sign in with **your** account\n\n"
    "```\nvpn --reset\n```\n"
)
LONG_BODY = "Word " * 60 + "end."


async def test_suggestions_show_a_markdown_free_preview_in_every_frontend(desk: Desk, kb: FakeKb) -> None:
    from bot.slack.render import to_mrkdwn
    from bot.telegram.render import to_html
    from handlers.richtext import PREVIEW_CHARS

    kb.articles = (
        FakeArticle("vpn-md", "VPN keeps dropping", MARKDOWN_BODY, ("vpn",)),
        FakeArticle("vpn-long", "VPN & <proxy>", LONG_BODY, ("vpn",)),
    )
    await desk.say(ANNA, "vpn")

    [msg] = desk.new(ANNA)
    first = "Restart the GlobalProtect client: see the guide and run vpn --reset."
    lines = msg.text.split("\n")
    assert lines[:2] == [ru("suggest_intro"), ""]
    assert lines[2] == f"• VPN keeps dropping — {first}"  # the first sentence, no markup
    long_preview = lines[3].removeprefix("• VPN & <proxy> — ")
    assert long_preview.endswith("…") and "end" not in long_preview  # cut at a word
    assert len(long_preview) <= PREVIEW_CHARS
    assert msg.rich is not None
    html = to_html(msg.rich)
    assert f"• <b>VPN keeps dropping</b> — {first}" in html
    assert "<b>VPN &amp; &lt;proxy&gt;</b>" in html  # escaped, as every text is
    assert f"• *VPN keeps dropping* — {first}" in to_mrkdwn(msg.rich)
    for out in (msg.text, html, to_mrkdwn(msg.rich)):
        assert "**" not in out and "`" not in out and "](" not in out


async def test_an_opened_article_is_formatted_in_every_frontend(desk: Desk, kb: FakeKb) -> None:
    from bot.slack.render import to_mrkdwn
    from bot.telegram.render import to_html

    kb.articles = (FakeArticle("vpn-md", "VPN keeps dropping", MARKDOWN_BODY, ("vpn",)),)
    await desk.say(ANNA, "vpn")
    desk.new(ANNA)
    await desk.press(ANNA, "VPN keeps dropping")

    [msg] = desk.new(ANNA)
    assert msg.rich is not None
    html = to_html(msg.rich)
    assert html.startswith("<b>VPN keeps dropping</b>\n\nRestart the <b>GlobalProtect</b> client")
    assert '<a href="https://wiki.example.com/vpn">the guide</a>' in html
    assert "<code>vpn --reset</code>" in html and "<pre>vpn --reset</pre>" in html
    assert "1. Quit the client\n2. Sign in with <b>your</b> account" in html
    mrkdwn = to_mrkdwn(msg.rich)
    assert "Restart the *GlobalProtect* client" in mrkdwn
    assert "<https://wiki.example.com/vpn|the guide>" in mrkdwn
    assert "```vpn --reset```" in mrkdwn and "2. Sign in with *your* account" in mrkdwn
    # console: the plain form, no markup characters, the link's address kept
    assert msg.text == (
        "VPN keeps dropping\n\n"
        "Restart the GlobalProtect client: see the guide (https://wiki.example.com/vpn) "
        "and run vpn --reset. Then sign in again.\n\n"
        "1. Quit the client\n2. Sign in with your account\n\nvpn --reset"
    )


async def test_another_suggestion_can_be_opened_from_an_article(desk: Desk) -> None:
    await to_article(desk)

    await desk.click(ANNA, "kb_open", value="vpn-phone")

    assert desk.last(ANNA).text.startswith("VPN на телефоне\n\n")
    state, data = await conv_of(desk)
    assert (state, data["slug"]) == (rq.ARTICLE, "vpn-phone")


async def test_this_solved_it_is_a_deflection_and_files_nothing(desk: Desk, kb: FakeKb) -> None:
    await to_article(desk)
    desk.new(ANNA)

    await desk.press(ANNA, "Это помогло")

    assert texts(desk) == [ru("deflected")]
    assert await conv_of(desk) == (rq.IDLE, {})
    assert await all_tickets(desk) == []
    assert [r[:2] for r in await feedback_rows(desk)] == [
        ("vpn-fix", "shown"), ("vpn-phone", "shown"), ("vpn-fix", "opened"), ("vpn-fix", "solved")
    ]
    assert kb.feedback == [("не работает VPN", "vpn-fix", True)]
    # The matcher learns only from a committed outcome: the row was visible to another connection.
    assert kb.committed_at_feedback[0][-1] == "solved"


async def test_still_need_help_records_not_solved_and_goes_to_category(desk: Desk, kb: FakeKb) -> None:
    await to_article(desk)
    desk.new(ANNA)

    await desk.press(ANNA, "Всё ещё нужна помощь")

    assert texts(desk) == [ru("ask_category_guess", category="VPN и сеть")]
    state, data = await conv_of(desk)
    assert (state, data["category"]) == (rq.CATEGORY_CONFIRM, "network")
    assert ("vpn-fix", "not_solved", None) in await feedback_rows(desk)
    assert kb.feedback == [("не работает VPN", "vpn-fix", False)]
    assert kb.committed_at_feedback[0][-1] == "not_solved"

    await desk.press(ANNA, "Да")

    assert len(await all_tickets(desk)) == 1
    assert "gap" not in [r[1] for r in await feedback_rows(desk)]  # the KB had answers: no gap


async def test_open_ticket_from_suggestions_asks_to_confirm_the_guessed_category(desk: Desk) -> None:
    await to_suggest(desk)
    desk.new(ANNA)

    await desk.press(ANNA, "Создать заявку")

    [msg] = desk.new(ANNA)
    assert msg.text == ru("ask_category_guess", category="VPN и сеть")
    assert [b.action for b in msg.buttons] == ["cat_ok", "cat_list"]
    state, data = await conv_of(desk)
    assert (state, data["category"], data["query"]) == (rq.CATEGORY_CONFIRM, "network", "не работает VPN")
    assert "gap" not in data


async def test_open_ticket_from_an_article(desk: Desk) -> None:
    await to_article(desk)

    await desk.click(ANNA, "open_ticket")

    assert (await conv_of(desk))[0] == rq.CATEGORY_CONFIRM
    assert desk.last(ANNA).text == ru("ask_category_guess", category="VPN и сеть")


async def test_open_ticket_without_a_category_guess_asks_to_choose(desk: Desk) -> None:
    await desk.say(ANNA, "нужен отчёт за квартал")
    assert desk.last(ANNA).labels() == ["Как выгрузить отчёт", "Создать заявку"]

    await desk.press(ANNA, "Создать заявку")

    assert desk.last(ANNA).labels() == CATEGORY_TITLES_RU
    assert (await conv_of(desk))[0] == rq.CATEGORY_CHOOSE


# --- category → ticket ------------------------------------------------------------------------------


async def test_confirming_the_category_files_the_ticket(desk: Desk, clock: FakeClock) -> None:
    await to_category_confirm(desk)
    desk.new(ANNA)

    await desk.press(ANNA, "Да")

    [ticket] = await all_tickets(desk)
    assert (ticket.team, ticket.category, ticket.priority, ticket.tier, ticket.status) == (
        "it", "network", "normal", "L1", Status.NEW
    )
    assert ticket.subject == "не работает VPN"
    assert ticket.first_response_due == clock.now + timedelta(hours=4)
    assert texts(desk) == [
        ru("ticket_created", n=ticket.id, subject="не работает VPN", team="ИТ-поддержка",
           priority="Обычный", due="30 нояб. 14:00 MSK")
    ]
    assert await conv_of(desk) == (rq.IDLE, {})
    card = desk.last_with_buttons("boris")
    assert card.ticket_id == ticket.id and "Взять" in card.labels()


async def test_another_category_lists_all_and_the_choice_is_used(desk: Desk) -> None:
    await to_category_confirm(desk)
    desk.new(ANNA)

    await desk.press(ANNA, "Другая категория")

    [msg] = desk.new(ANNA)
    assert msg.text == ru("ask_category")
    assert [b.value for b in msg.buttons] == list(desk.app.config.categories)
    state, data = await conv_of(desk)
    assert state == rq.CATEGORY_CHOOSE and data["query"] == "не работает VPN"

    await desk.press(ANNA, "Доступы и учётные записи")

    [ticket] = await all_tickets(desk)
    assert (ticket.category, ticket.team) == ("access", "it")
    assert (await conv_of(desk))[0] == rq.IDLE


async def test_a_category_button_is_accepted_while_confirming(desk: Desk) -> None:
    await to_category_confirm(desk)

    await desk.click(ANNA, "cat", value="software")

    [ticket] = await all_tickets(desk)
    assert ticket.category == "software"


async def test_priority_is_asked_when_configured(make_desk: MakeDesk, clock: FakeClock) -> None:
    desk = await make_desk(ask_priority=True)
    await to_category_confirm(desk)
    desk.new(ANNA)

    await desk.press(ANNA, "Да")

    [msg] = desk.new(ANNA)
    assert msg.text == ru("ask_priority")
    assert msg.labels() == PRIORITY_TITLES_RU
    assert [(b.action, b.value) for b in msg.buttons] == [
        ("prio", "low"), ("prio", "normal"), ("prio", "high"), ("prio", "urgent")
    ]
    state, data = await conv_of(desk)
    assert (state, data["category"]) == (rq.PRIORITY, "network")
    assert await all_tickets(desk) == []

    await desk.press(ANNA, "Высокий")

    [ticket] = await all_tickets(desk)
    assert ticket.priority == "high"
    assert ticket.first_response_due == clock.now + timedelta(hours=1)
    assert "приоритет: Высокий" in desk.last(ANNA).text
    assert (await conv_of(desk))[0] == rq.IDLE


@pytest.mark.parametrize(
    ("text", "priority", "title"),
    [
        ("срочно: не работает VPN", "urgent", "Срочный"),
        ("VPN не работает у всех в отделе", "urgent", "Срочный"),
        ("VPN отвалился, не могу работать", "high", "Высокий"),
        ("не работает VPN", "normal", "Обычный"),
    ],
)
async def test_priority_is_inferred_from_the_text(desk: Desk, text: str, priority: str, title: str) -> None:
    await desk.say(ANNA, text)
    await desk.press(ANNA, "Создать заявку")
    await desk.press(ANNA, "Да")

    [ticket] = await all_tickets(desk)
    assert ticket.priority == priority
    assert f"приоритет: {title}" in desk.last(ANNA).text


# --- duplicate check --------------------------------------------------------------------------------


async def test_a_second_similar_request_asks_add_or_new(desk: Desk) -> None:
    await file_vpn_ticket(desk)
    await desk.say(ANNA, "опять не работает VPN")
    await desk.press(ANNA, "Создать заявку")
    desk.new(ANNA)

    await desk.press(ANNA, "Да")

    [msg] = desk.new(ANNA)
    assert msg.text == ru("ask_duplicate", n=1, subject="не работает VPN")
    assert msg.labels() == ["Добавить в #1", "Создать новую"]
    state, data = await conv_of(desk)
    assert (state, data["dup"]) == (rq.DUPLICATE, 1)
    assert len(await all_tickets(desk)) == 1


async def test_add_to_existing_appends_and_relays(desk: Desk) -> None:
    await to_duplicate(desk)
    desk.new("boris")

    await desk.press(ANNA, "Добавить в #1")

    assert desk.last(ANNA).text == ru("added_to_ticket", n=1)
    [ticket] = await all_tickets(desk)
    async with desk.app.db.transaction() as s:
        history = await tickets.history(s, ticket.id)  # type: ignore[arg-type]
        actions = [e.action for e in await tickets.events(s, ticket.id)]  # type: ignore[arg-type]
    assert [(m.kind, m.text) for m in history] == [
        (MessageKind.REQUESTER, "не работает VPN"), (MessageKind.REQUESTER, "опять не работает VPN")
    ]
    assert actions == ["create", "followup"]
    [relay] = desk.new("boris")  # nobody holds #1 yet: the L1 queue (boris) hears it
    assert relay.text == ru("relay_from_requester", n=1, name="Anna Ivanova", text="опять не работает VPN")
    assert relay.labels() == ["Ответить"]
    assert await conv_of(desk) == (rq.IDLE, {})


async def test_open_a_new_one_files_a_second_ticket(desk: Desk) -> None:
    await to_duplicate(desk)

    await desk.press(ANNA, "Создать новую")

    first, second = await all_tickets(desk)
    assert (second.id, second.subject, second.category) == (2, "опять не работает VPN", "network")
    assert desk.last(ANNA).text == ru("ticket_created", n=2, subject="опять не работает VPN",
                                      team="ИТ-поддержка", priority="Обычный", due="30 нояб. 14:00 MSK")
    assert await conv_of(desk) == (rq.IDLE, {})


async def test_add_to_a_ticket_closed_meanwhile_files_a_new_one(desk: Desk) -> None:
    await to_duplicate(desk)
    await desk.say("boris", "/take 1")
    await desk.say("boris", "/resolve 1")
    await desk.click(ANNA, "rate", 1, "5")  # closes #1 while anna is still being asked
    assert (await conv_of(desk))[0] == rq.DUPLICATE

    await desk.click(ANNA, "dup_add", 1)  # the "Add to #1" button she was shown

    first, second = await all_tickets(desk)
    assert first.status == Status.CLOSED
    assert second.subject == "опять не работает VPN"
    assert (await conv_of(desk))[0] == rq.IDLE


async def test_an_unrelated_request_is_not_asked_about_as_a_duplicate(desk: Desk) -> None:
    # Regression: any two requests sharing "не работает" used to count as the same thing
    # (token_set_ratio scores a shared phrase as a near match).
    await desk.say(ANNA, "не работает VPN")
    await desk.press(ANNA, "Создать заявку")
    await desk.press(ANNA, "Да")
    await desk.say(ANNA, "не работает принтер")
    desk.new(ANNA)

    await desk.press(ANNA, "Да")

    assert [tk.category for tk in await all_tickets(desk)] == ["network", "hardware"]
    assert (await conv_of(desk))[0] == rq.IDLE


async def test_a_similar_subject_in_another_category_is_a_duplicate(desk: Desk) -> None:
    await file_vpn_ticket(desk)

    await desk.say(ANNA, "VPN не работает")
    await desk.press(ANNA, "Создать заявку")
    await desk.press(ANNA, "Другая категория")
    await desk.press(ANNA, "Доступы и учётные записи")

    state, data = await conv_of(desk)
    assert (state, data["dup"]) == (rq.DUPLICATE, 1)


async def test_tickets_older_than_the_window_are_not_duplicates(desk: Desk, clock: FakeClock) -> None:
    await file_vpn_ticket(desk)
    clock.advance(days=desk.app.config.desk.duplicate_window_days + 1)

    await to_category_confirm(desk)
    await desk.press(ANNA, "Да")

    assert len(await all_tickets(desk)) == 2
    assert (await conv_of(desk))[0] == rq.IDLE


# --- compose (reply mode) ---------------------------------------------------------------------------


async def test_reply_button_puts_the_requester_in_compose_and_the_text_goes_into_the_ticket(desk: Desk) -> None:
    await file_vpn_ticket(desk)
    await desk.say("boris", "/reply 1 Переустановите клиент")
    desk.new(ANNA)
    desk.new("boris")

    await desk.press(ANNA, "Ответить")

    assert texts(desk) == [ru("reply_prompt", n=1)]
    assert await conv_of(desk) == (rq.COMPOSE, {"ticket": 1})

    await desk.say(ANNA, "Переустановила, всё равно не работает")

    assert texts(desk) == [ru("followup_sent", n=1)]
    assert await conv_of(desk) == (rq.IDLE, {})
    async with desk.app.db.transaction() as s:
        history = await tickets.history(s, 1)
        ticket = await tickets.get_ticket(s, 1)
    assert history[-1].kind == MessageKind.REQUESTER
    assert history[-1].text == "Переустановила, всё равно не работает"
    assert ticket is not None and ticket.status == Status.CLAIMED  # back from waiting
    relays = [m.text for m in desk.new("boris")]
    assert ru("relay_from_requester", n=1, name="Anna Ivanova", text="Переустановила, всё равно не работает") in relays


async def test_agent_reply_button_composes_a_reply_to_the_requester(desk: Desk) -> None:
    await file_vpn_ticket(desk)
    await desk.press("boris", "Взять")
    desk.new(ANNA)

    await desk.press("boris", "Ответить")

    assert await conv_of(desk, "boris") == (rq.COMPOSE, {"ticket": 1})
    await desk.say("boris", "Перезагрузите ноутбук")

    assert await conv_of(desk, "boris") == (rq.IDLE, {})
    assert texts(desk) == [ru("relay_from_agent", n=1, name="Boris Petrov", text="Перезагрузите ноутбук")]
    [ticket] = await all_tickets(desk)
    assert ticket.status == Status.WAITING


# --- /cancel ----------------------------------------------------------------------------------------


NON_IDLE = [s for s in rq.STATES if s != rq.IDLE]


@pytest.mark.parametrize("state", NON_IDLE)
async def test_cancel_returns_to_idle_and_files_nothing(make_desk: MakeDesk, state: str) -> None:
    desk = await desk_in(make_desk, state)
    before_tickets = [(tk.id, tk.status) for tk in await all_tickets(desk)]
    before_messages = await message_count(desk)
    abandoned = desk.last_with_buttons(ANNA)

    waiting_text = (await conv_of(desk))[1].get("pending") or (await conv_of(desk))[1].get("query")

    await desk.say(ANNA, "/cancel")

    # Nothing is filed, but nothing typed is lost: the text is kept as a draft for /new.
    kept = {"draft": waiting_text} if waiting_text else {}
    assert texts(desk) == [ru("cancelled_draft_kept" if waiting_text else "cancelled")]
    assert await conv_of(desk) == (rq.IDLE, kept)
    assert [(tk.id, tk.status) for tk in await all_tickets(desk)] == before_tickets
    assert await message_count(desk) == before_messages

    # The buttons of the abandoned step are stale now.
    flow_buttons = [b for b in abandoned.buttons if b.action in rq.ALL_FLOW_ACTIONS]
    for button in flow_buttons:
        await desk.click(ANNA, button.action, button.ticket_id, button.value)
        assert texts(desk) == [ru("stale_button")]
    assert await conv_of(desk) == (rq.IDLE, kept)
    assert [(tk.id, tk.status) for tk in await all_tickets(desk)] == before_tickets


@pytest.mark.parametrize("state", [rq.SUGGEST, rq.WHICH])
async def test_new_after_cancel_files_the_kept_draft(make_desk: MakeDesk, state: str) -> None:
    desk = await desk_in(make_desk, state)
    draft = (await conv_of(desk))[1].get("pending") or (await conv_of(desk))[1].get("query")
    await desk.say(ANNA, "/cancel")

    await desk.say(ANNA, "/new")

    state_after, data = await conv_of(desk)
    assert data.get("query") == draft
    assert state_after != rq.IDLE

async def test_cancel_when_idle_says_nothing_to_cancel(desk: Desk) -> None:
    await desk.say(ANNA, "/cancel")

    assert texts(desk) == [ru("nothing_to_cancel")]
    assert await conv_of(desk) == (rq.IDLE, {})


# --- unexpected input ---------------------------------------------------------------------------------


# A form has a Skip button but expects text (tests/handlers/test_forms.py).
BUTTON_STATES = [s for s in rq.STATES if s in rq.FLOW_ACTIONS and s != rq.FORM]


def test_every_button_state_is_one_where_text_is_unexpected() -> None:
    assert set(BUTTON_STATES) == set(rq.STATES) - {rq.IDLE, rq.COMPOSE, rq.FORM}


@pytest.mark.parametrize("state", BUTTON_STATES)
async def test_free_text_while_buttons_are_expected_keeps_the_state_and_the_text(
    make_desk: MakeDesk, state: str
) -> None:
    desk = await desk_in(make_desk, state)
    before_state, before_data = await conv_of(desk)
    tickets_before = len(await all_tickets(desk))

    await desk.say(ANNA, "а можно побыстрее?")

    waiting = state in (rq.WHICH, rq.REOPEN_OFFER)
    assert texts(desk) == [ru("pending_extended" if waiting else "draft_extended")]
    after_state, after_data = await conv_of(desk)
    assert after_state == before_state
    field = "pending" if waiting else "query"
    # Typed text is never dropped: it joins the text that waits for the choice.
    assert after_data[field] == before_data[field] + "\nа можно побыстрее?"
    assert len(await all_tickets(desk)) == tickets_before


# Plausible values, so that a stale button is refused for its state, not for its value.
STALE_VALUES: dict[str, tuple[int | None, str | None]] = {
    "kb_open": (None, "vpn-fix"), "kb_solved": (None, None), "kb_more": (None, None),
    "open_ticket": (None, None), "cat_ok": (None, None), "cat_list": (None, None),
    "cat": (None, "network"), "prio": (None, "urgent"), "dup_add": (1, None), "dup_new": (None, None),
    "pending_to": (1, None), "pending_new": (None, None), "reopen_confirm": (1, None), "split_new": (1, "1"),
    "form_skip": (None, None),
    "esc_skip": (1, None), "note_skip": (1, None), "csat_skip": (1, None),
}


def test_stale_values_cover_every_flow_action() -> None:
    assert set(STALE_VALUES) == set(rq.ALL_FLOW_ACTIONS)


@pytest.mark.parametrize("state", rq.STATES)
async def test_a_flow_button_of_another_state_is_stale(make_desk: MakeDesk, state: str) -> None:
    desk = await desk_in(make_desk, state)
    before = await conv_of(desk)
    tickets_before = [(tk.id, tk.status) for tk in await all_tickets(desk)]
    feedback_before = await feedback_rows(desk)
    foreign = sorted(rq.ALL_FLOW_ACTIONS - set(rq.FLOW_ACTIONS.get(state, ())))
    assert foreign

    for action in foreign:
        ticket_id, value = STALE_VALUES[action]
        await desk.click(ANNA, action, ticket_id, value)
        assert texts(desk) == [ru("stale_button")], action
        assert await conv_of(desk) == before, action

    assert [(tk.id, tk.status) for tk in await all_tickets(desk)] == tickets_before
    assert await feedback_rows(desk) == feedback_before


@pytest.mark.parametrize("state", [rq.SUGGEST, rq.ARTICLE])
async def test_an_unknown_article_keeps_the_state(make_desk: MakeDesk, state: str) -> None:
    desk = await desk_in(make_desk, state)
    before = await conv_of(desk)

    await desk.click(ANNA, "kb_open", value="no-such-article")

    assert texts(desk) == [ru("unknown_article")]
    assert await conv_of(desk) == before


@pytest.mark.parametrize("state", [rq.CATEGORY_CONFIRM, rq.CATEGORY_CHOOSE])
@pytest.mark.parametrize("value", ["no-such-category", None])
async def test_a_bad_category_keeps_the_state(make_desk: MakeDesk, state: str, value: str | None) -> None:
    desk = await desk_in(make_desk, state)
    before = await conv_of(desk)

    await desk.click(ANNA, "cat", value=value)

    assert texts(desk) == [ru("unknown_category")]
    assert await conv_of(desk) == before
    assert await all_tickets(desk) == []


@pytest.mark.parametrize("value", ["critical", None])
async def test_a_bad_priority_keeps_the_state(make_desk: MakeDesk, value: str | None) -> None:
    desk = await desk_in(make_desk, rq.PRIORITY)
    before = await conv_of(desk)

    await desk.click(ANNA, "prio", value=value)

    assert texts(desk) == [ru("use_buttons")]
    assert await conv_of(desk) == before
    assert await all_tickets(desk) == []


@pytest.mark.parametrize("state", [rq.IDLE, rq.CATEGORY_CONFIRM])
@pytest.mark.parametrize("text", ["", "   \n "])
async def test_empty_text_is_refused_and_keeps_the_state(make_desk: MakeDesk, state: str, text: str) -> None:
    desk = await desk_in(make_desk, state)
    before = await conv_of(desk)

    await desk.say(ANNA, text)

    assert texts(desk) == [ru("empty_text")]
    assert await conv_of(desk) == before


# --- commands ---------------------------------------------------------------------------------------


async def test_new_abandons_the_current_request(desk: Desk) -> None:
    await to_category_confirm(desk)
    desk.new(ANNA)

    await desk.say(ANNA, "/new")

    assert texts(desk) == [ru("new_prompt")]
    assert await conv_of(desk) == (rq.IDLE, {})
    assert await all_tickets(desk) == []


async def test_new_with_text_starts_a_request_from_it(desk: Desk) -> None:
    await to_category_choose(desk)
    desk.new(ANNA)

    await desk.say(ANNA, "/new впн тормозит")

    [text] = texts(desk)
    assert text.startswith(ru("suggest_intro") + "\n\n• VPN не подключается — ")
    state, data = await conv_of(desk)
    assert (state, data["query"]) == (rq.SUGGEST, "впн тормозит")


async def test_help_for_a_requester_lists_requester_commands_only(desk: Desk) -> None:
    await desk.say(ANNA, "/help")

    assert texts(desk) == [ru("help_requester")]


@pytest.mark.parametrize(("who", "lang"), [("boris", "ru"), ("vera", "en"), ("gleb", "ru")])
async def test_help_for_agents_and_leads_adds_agent_commands(desk: Desk, who: str, lang: str) -> None:
    await desk.say(who, "/help")

    assert texts(desk, who) == [t("help_requester", lang) + "\n\n" + t("help_agent", lang)]


async def test_start_and_bot_suffixed_commands_work(desk: Desk) -> None:
    await desk.say(ANNA, "/start")
    await desk.say(ANNA, "/HELP@deskbot")

    assert texts(desk) == [ru("help_requester")] * 2


async def test_lang_switches_the_language_of_every_later_reply(desk: Desk) -> None:
    await desk.say(ANNA, "/lang en")

    assert texts(desk) == [en("lang_set")]
    async with desk.app.db.transaction() as s:
        person = (await s.exec(select(Person).where(Person.key == ANNA))).one()
    assert person.locale == "en"

    await desk.say(ANNA, "VPN is down")
    msg = desk.last(ANNA)
    assert msg.text.startswith(en("suggest_intro")) and "Open a ticket" in msg.labels()

    await desk.say(ANNA, "/lang RU")
    assert desk.last(ANNA).text == ru("lang_set")


@pytest.mark.parametrize("arg", ["de", "", "english"])
async def test_lang_with_a_bad_choice_shows_usage(desk: Desk, arg: str) -> None:
    await desk.say(ANNA, f"/lang {arg}".strip())

    assert texts(desk) == [ru("lang_usage")]
    async with desk.app.db.transaction() as s:
        person = (await s.exec(select(Person).where(Person.key == ANNA))).one()
    assert person.locale is None


async def test_my_lists_own_tickets_with_status(desk: Desk) -> None:
    await desk.say(ANNA, "/my")
    assert texts(desk) == [ru("my_none")]

    await file_vpn_ticket(desk)
    await desk.say("vera", "VPN is down")  # someone else's ticket must not show up
    await desk.press("vera", "Open a ticket")
    await desk.press("vera", "Yes")
    await desk.click("boris", "claim", 1)
    desk.new(ANNA)

    await desk.say(ANNA, "/my")

    assert texts(desk) == [ru("my_tickets") + "\n#1 не работает VPN — в работе — Boris Petrov"]


async def test_unknown_command_is_answered_and_keeps_the_flow(desk: Desk) -> None:
    await to_category_confirm(desk)
    before = await conv_of(desk)
    desk.new(ANNA)

    await desk.say(ANNA, "/frobnicate now")

    assert texts(desk) == [ru("unknown_command", command="/frobnicate")]
    assert await conv_of(desk) == before
