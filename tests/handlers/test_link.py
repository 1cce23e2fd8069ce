"""``/link``: a Telegram and a Slack account become one person (issue 9, must-show 7).

The desk serves both platforms (a recording sender each). Kate is not in the config: she
wrote from Telegram (200001) and from Slack (U0KATE, DM D0KATE), so she is two people
until she links them. A refused link (wrong, expired, reused, own code, same platform,
too many guesses) must leave people, identities and tickets exactly as they were.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from bot.app import App, build
from bot.config import Config
from handlers.events import Incoming, Outcome
from handlers.texts import t
from store import links
from store.models import (
    Identity, KbFeedback, LinkCode, Membership, Person, Ticket, TicketEvent, TicketMessage,
)
from tests.support.clock import FakeClock
from tests.support.desk import Received, RecordingSender
from tests.support.scenarios import FakeKb

TG, SL = "telegram", "slack"
KATE_TG = ("200001", "200001")  # (user, private chat)
KATE_SL = ("U0KATE", "D0KATE")
BORIS_TG = ("100002", "100002")  # IT L1 agent, ru


class TwoPlatforms:
    """Drives the engine as Telegram and Slack frontends would, and reads what each chat got."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._seq = itertools.count(1)

    async def send(self, inc: Incoming) -> Outcome:
        outcome = await self.app.engine.handle(inc)
        while await self.app.worker.deliver_pending():
            pass
        return outcome

    async def say(self, platform: str, who: tuple[str, str], text: str, *, private: bool = True,
                  chat: str | None = None, locale: str | None = "en") -> Outcome:
        user, dm = who
        return await self.send(Incoming(platform=platform, chat_id=chat or dm, user_id=user, text=text,
                                        event_key=f"{platform}:{next(self._seq)}", is_private=private,
                                        display_name="Kate" if user in ("200001", "U0KATE") else None,
                                        locale=locale))

    async def click(self, platform: str, who: tuple[str, str], action: str, ticket_id: int | None = None) -> None:
        user, dm = who
        await self.send(Incoming(platform=platform, chat_id=dm, user_id=user, action=action, ticket_id=ticket_id,
                                 event_key=f"{platform}:{next(self._seq)}", locale="en"))

    def received(self, platform: str, who: tuple[str, str]) -> list[Received]:
        sender = self.app.senders[platform]
        assert isinstance(sender, RecordingSender)
        return [m for m in sender.messages if m.chat == who[1]]

    def last(self, platform: str, who: tuple[str, str]) -> Received:
        got = self.received(platform, who)
        assert got, f"{who} on {platform} received nothing"
        return got[-1]

    async def open_ticket(self, platform: str, who: tuple[str, str], text: str) -> int:
        before = await self.max_ticket()
        await self.say(platform, who, text)
        for _ in range(4):
            actions = {b.action for b in self.last(platform, who).buttons}
            for step in ("pending_new", "open_ticket", "cat_ok", "dup_new"):
                if step in actions:
                    await self.click(platform, who, step)
                    break
            else:
                break
        number = await self.max_ticket()
        assert number > before, f"no ticket filed; {who} saw {self.last(platform, who).text!r}"
        return number

    async def max_ticket(self) -> int:
        async with self.app.db.transaction() as s:
            return (await s.exec(select(func.max(Ticket.id)))).one() or 0

    async def code_for(self, platform: str, who: tuple[str, str], lang: str = "en") -> str:
        await self.say(platform, who, "/link")
        text = self.last(platform, who).text
        code = text.split("\n", 1)[0].rsplit(" ", 1)[-1]
        assert t("link_code", lang, code=code, minutes=10) == text
        return code

    async def person_of(self, platform: str, user: str) -> Person:
        async with self.app.db.transaction() as s:
            ident = (await s.exec(select(Identity).where(Identity.platform == platform,
                                                         Identity.platform_user_id == user))).one()
            return await s.get_one(Person, ident.person_id)


@pytest.fixture
async def two(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[TwoPlatforms]:
    app = build(config, senders={TG: RecordingSender(platform=TG), SL: RecordingSender(platform=SL)},
                database_url=db_url, clock=clock, kb=FakeKb())
    await app.start()
    try:
        yield TwoPlatforms(app)
    finally:
        await app.close()


PEOPLE_TABLES: tuple[type[SQLModel], ...] = (Person, Identity, Membership, Ticket, TicketMessage, TicketEvent, KbFeedback)


async def snapshot(two: TwoPlatforms) -> dict[str, list[dict[str, Any]]]:
    """Who is who and who owns what (everything a link would change)."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with two.app.db.transaction() as s:
        for model in PEOPLE_TABLES:
            rows = await s.exec(select(model).order_by(col(model.id)))  # type: ignore[attr-defined]
            # Writing at all marks the account as last used: not part of who owns what.
            out[model.__name__] = [r.model_dump(exclude={"last_seen_at"}) for r in rows]
    return out


async def two_kates(two: TwoPlatforms) -> tuple[int, int]:
    """Kate files one ticket from Telegram and one from Slack (two people so far)."""
    first = await two.open_ticket(TG, KATE_TG, "my laptop won't turn on")
    two.app.engine.clock.advance(minutes=1)  # type: ignore[attr-defined]
    second = await two.open_ticket(SL, KATE_SL, "the printer on floor 3 jams")
    tg, sl = await two.person_of(TG, "200001"), await two.person_of(SL, "U0KATE")
    assert tg.id != sl.id
    return first, second


# --- happy path -----------------------------------------------------------------------


async def test_link_joins_both_accounts_and_everything_they_own(two: TwoPlatforms, clock: FakeClock) -> None:
    first, second = await two_kates(two)
    tg_before, sl_before = await two.person_of(TG, "200001"), await two.person_of(SL, "U0KATE")
    code = await two.code_for(TG, KATE_TG)
    assert len(code) == links.CODE_LENGTH and set(code) <= set(links.ALPHABET)
    clock.advance(minutes=9)
    await two.say(SL, KATE_SL, f"/link {code.lower()}")  # case does not matter

    # Both sides are told, each on its own platform.
    assert two.last(SL, KATE_SL).text == t("link_done", "en", other="Telegram")
    assert two.last(TG, KATE_TG).text == t("link_done", "en", other="Slack")
    kept_tg, kept_sl = await two.person_of(TG, "200001"), await two.person_of(SL, "U0KATE")
    assert kept_tg.id == kept_sl.id == tg_before.id  # neither configured: the older one stays
    async with two.app.db.transaction() as s:
        assert await s.get(Person, sl_before.id) is None
        for model, name in links.person_references():
            n = (await s.exec(select(func.count()).select_from(model)
                              .where(getattr(model, name) == sl_before.id))).one()
            assert n == 0, f"{model.__name__}.{name} still points at the merged-away person"
        owners = {tk.id: tk.requester_id for tk in await s.exec(select(Ticket))}
        authors = {m.author_id for m in await s.exec(select(TicketMessage).where(
            col(TicketMessage.ticket_id).in_((first, second)), TicketMessage.kind == "requester"))}
        assert (await s.exec(select(func.count()).select_from(LinkCode))).one() == 0  # single use
    assert owners[first] == owners[second] == tg_before.id
    assert authors == {tg_before.id}

    await two.say(SL, KATE_SL, "/my")
    mine = two.last(SL, KATE_SL).text
    assert f"#{first} " in mine and f"#{second} " in mine

    # The code is gone: using it again (from a third account) is a wrong code.
    before = await snapshot(two)
    await two.say(SL, ("U0OTHER", "D0OTHER"), f"/link {code}")
    assert two.last(SL, ("U0OTHER", "D0OTHER")).text == t("link_wrong", "en", left=4)
    after = await snapshot(two)
    assert after["Ticket"] == before["Ticket"] and after["Identity"][:3] == before["Identity"][:3]


async def test_replies_reach_the_linked_person_where_they_last_wrote(two: TwoPlatforms, clock: FakeClock) -> None:
    first, _ = await two_kates(two)
    code = await two.code_for(SL, KATE_SL)
    await two.say(TG, KATE_TG, f"/link {code}")  # Telegram is now the last-used account
    assert two.last(TG, KATE_TG).text == t("link_done", "en", other="Slack")

    await two.say(TG, BORIS_TG, f"/take {first}")
    slack_before = len(two.received(SL, KATE_SL))
    await two.say(TG, BORIS_TG, f"/reply {first} please hold the power button for 10 s")
    assert "hold the power button" in two.last(TG, KATE_TG).text
    assert len(two.received(SL, KATE_SL)) == slack_before

    clock.advance(minutes=5)
    await two.say(SL, KATE_SL, "/my")  # she writes from Slack: answers follow her there
    tg_before = len(two.received(TG, KATE_TG))
    await two.say(TG, BORIS_TG, f"/reply {first} did that help?")
    assert "did that help?" in two.last(SL, KATE_SL).text
    assert len(two.received(TG, KATE_TG)) == tg_before


async def test_a_configured_person_keeps_their_key_when_linking_a_new_account(two: TwoPlatforms) -> None:
    """Anna (config: telegram 100001) links a personal Slack account she wrote from."""
    other = ("U0ANNA2", "D0ANNA2")
    ticket = await two.open_ticket(SL, other, "my laptop won't turn on")
    stranger = await two.person_of(SL, "U0ANNA2")
    code = await two.code_for(SL, other)
    await two.say(TG, ("100001", "100001"), f"/link {code}", locale="ru")
    assert two.last(TG, ("100001", "100001")).text == t("link_done", "ru", other="Slack")
    assert two.last(SL, other).text == t("link_done", "ru", other="Telegram")  # anna's config locale
    anna = await two.person_of(SL, "U0ANNA2")
    assert anna.key == "anna" and anna.id != stranger.id
    async with two.app.db.transaction() as s:
        assert (await s.get_one(Ticket, ticket)).requester_id == anna.id
        assert await s.get(Person, stranger.id) is None


# --- refusals: nothing changes --------------------------------------------------------


async def test_wrong_code_changes_nothing(two: TwoPlatforms) -> None:
    await two_kates(two)
    code = await two.code_for(TG, KATE_TG)
    before = await snapshot(two)
    wrong = "".join(links.ALPHABET[(links.ALPHABET.index(c) + 1) % len(links.ALPHABET)] for c in code)
    await two.say(SL, KATE_SL, f"/link {wrong}")
    assert two.last(SL, KATE_SL).text == t("link_wrong", "en", left=links.MAX_FAILURES - 1)
    assert await snapshot(two) == before
    await two.say(SL, KATE_SL, f"/link {code}")  # the right one still works
    assert two.last(SL, KATE_SL).text == t("link_done", "en", other="Telegram")


async def test_expired_code_changes_nothing(two: TwoPlatforms, clock: FakeClock) -> None:
    await two_kates(two)
    code = await two.code_for(TG, KATE_TG)
    clock.advance(minutes=10)
    before = await snapshot(two)
    await two.say(SL, KATE_SL, f"/link {code}")
    assert two.last(SL, KATE_SL).text == t("link_expired", "en")
    assert await snapshot(two) == before


async def test_a_new_code_replaces_the_old_one(two: TwoPlatforms) -> None:
    await two_kates(two)
    old = await two.code_for(TG, KATE_TG)
    new = await two.code_for(TG, KATE_TG)
    async with two.app.db.transaction() as s:
        rows = list(await s.exec(select(LinkCode)))
    assert len(rows) == 1 and rows[0].code_hash == links.digest(new) and new not in rows[0].code_hash
    before = await snapshot(two)
    if old != new:
        await two.say(SL, KATE_SL, f"/link {old}")
        assert two.last(SL, KATE_SL).text == t("link_wrong", "en", left=links.MAX_FAILURES - 1)
        assert await snapshot(two) == before


async def test_own_code_and_same_platform_are_refused(two: TwoPlatforms) -> None:
    await two_kates(two)
    code = await two.code_for(TG, KATE_TG)
    before = await snapshot(two)
    await two.say(TG, KATE_TG, f"/link {code}")
    assert two.last(TG, KATE_TG).text == t("link_own_code", "en")
    someone = ("200999", "200999")
    await two.say(TG, someone, f"/link {code}")
    assert two.last(TG, someone).text == t("link_same_platform", "en", platform="Telegram")
    after = await snapshot(two)
    assert {k: v for k, v in after.items() if k not in ("Person", "Identity")} == {
        k: v for k, v in before.items() if k not in ("Person", "Identity")}
    assert after["Person"][: len(before["Person"])] == before["Person"]  # only the newcomer was added
    await two.say(SL, KATE_SL, f"/link {code}")  # still valid for the right account
    assert two.last(SL, KATE_SL).text == t("link_done", "en", other="Telegram")


async def test_two_configured_people_are_not_joined(two: TwoPlatforms) -> None:
    code = await two.code_for(TG, ("100001", "100001"), "ru")  # anna (ru in config)
    before = await snapshot(two)
    await two.say(SL, ("U000BORIS", "D0BORIS"), f"/link {code}")
    assert two.last(SL, ("U000BORIS", "D0BORIS")).text == t("link_both_configured", "ru")
    after = await snapshot(two)
    assert after["Person"] == before["Person"] and after["Ticket"] == before["Ticket"]


async def test_guessing_is_stopped_after_five_wrong_codes(two: TwoPlatforms, clock: FakeClock) -> None:
    await two_kates(two)
    code = await two.code_for(TG, KATE_TG)
    before = await snapshot(two)
    for n in range(links.MAX_FAILURES):
        await two.say(SL, KATE_SL, f"/link {'A' * links.CODE_LENGTH if code != 'A' * 8 else 'B' * 8}")
        assert two.last(SL, KATE_SL).text == t("link_wrong", "en", left=links.MAX_FAILURES - n - 1)
    await two.say(SL, KATE_SL, f"/link {code}")  # even the right code is refused now
    assert two.last(SL, KATE_SL).text == t("link_too_many", "en", minutes=10)
    assert await snapshot(two) == before
    clock.advance(minutes=9)  # codes live 10 minutes: ask for a fresh one, still locked out
    code = await two.code_for(TG, KATE_TG)
    await two.say(SL, KATE_SL, f"/link {code}")
    assert two.last(SL, KATE_SL).text == t("link_too_many", "en", minutes=10)
    clock.advance(minutes=2)  # the window has passed
    await two.say(SL, KATE_SL, f"/link {code}")
    assert two.last(SL, KATE_SL).text == t("link_done", "en", other="Telegram")


async def test_link_in_a_group_chat_gives_no_code(two: TwoPlatforms) -> None:
    await two.say(TG, BORIS_TG, "/link", private=False, chat="-1001000000001")
    sender = two.app.senders[TG]
    assert isinstance(sender, RecordingSender)
    assert sender.messages[-1].text == t("link_private_only", "ru")
    async with two.app.db.transaction() as s:
        assert (await s.exec(select(func.count()).select_from(LinkCode))).one() == 0


async def test_help_and_telegram_menu_list_link() -> None:
    from bot.telegram.frontend import PRIVATE_COMMANDS, command_menu

    assert "link" in PRIVATE_COMMANDS
    for lang in ("en", "ru"):
        assert "/link" in t("help_requester", lang)
        assert any(c.command == "link" and c.description == t("tgcmd_link", lang)
                   for c in command_menu(PRIVATE_COMMANDS, lang))


def test_codes_are_random_and_unambiguous() -> None:
    codes = {links.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert not set("".join(codes)) & set("0O1IL")
    assert links.normalize(" ab-cd ") == "ABCD"


async def test_one_code_used_at_once_from_two_accounts_links_only_one(two: TwoPlatforms) -> None:
    import asyncio

    await two_kates(two)
    code = await two.code_for(TG, KATE_TG)
    other = ("U0OTHER", "D0OTHER")
    await two.say(SL, other, "/my")  # a second Slack account exists
    outcomes = await asyncio.gather(*(
        two.app.engine.handle(Incoming(platform=SL, chat_id=dm, user_id=user, text=f"/link {code}",
                                       event_key=f"race:{user}", locale="en"))
        for user, dm in (KATE_SL, other)))
    texts = sorted(o.outgoing[0].reply.text for o in outcomes)
    assert texts == sorted([t("link_done", "en", other="Telegram"),
                            t("link_wrong", "en", left=links.MAX_FAILURES - 1)])
    kate = await two.person_of(TG, "200001")
    linked = [u for u, _ in (KATE_SL, other) if (await two.person_of(SL, u)).id == kate.id]
    assert len(linked) == 1


async def test_a_redelivered_link_event_has_one_effect(two: TwoPlatforms) -> None:
    await two_kates(two)
    code = await two.code_for(TG, KATE_TG)
    inc = Incoming(platform=SL, chat_id=KATE_SL[1], user_id=KATE_SL[0], text=f"/link {code}",
                   event_key="slack:T1:Ev1", locale="en")
    first = await two.send(inc)
    after_first = await snapshot(two)
    again = await two.send(inc)
    assert [o.reply.text for o in first.outgoing][0] == t("link_done", "en", other="Telegram")
    assert again.duplicate and not again.outgoing
    assert await snapshot(two) == after_first
