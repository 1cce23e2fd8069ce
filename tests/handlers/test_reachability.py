"""A requester who blocked the bot: agents see it on the queue card, nothing more is tried,
and writing again makes them reachable (through the real engine and outbox worker)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.app import build
from bot.config import Config
from bot.delivery import RecipientBlocked
from handlers.cards import ticket_card
from handlers.events import Destination, Reply
from handlers.texts import translator
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender
from tests.support.scenarios import FakeKb, open_ticket


@dataclass
class BlockingSender(RecordingSender):
    """A terminal where the chats in ``blocked`` refuse every message."""

    blocked: set[str] | None = None
    refused: int = 0

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        if self.blocked and dest.chat_id in self.blocked:
            self.refused += 1
            raise RecipientBlocked("blocked")
        return await super().send(dest, reply)


async def test_an_unreachable_requester_is_shown_on_the_card_until_they_write(
    config: Config, db_url: str, clock: FakeClock
) -> None:
    sender = BlockingSender(blocked=set())
    app = build(config, senders={"console": sender}, database_url=db_url, clock=clock, kb=FakeKb())
    await app.start()
    try:
        desk = await Desk.open(app)
        number = await open_ticket(desk, "anna", "принтер не печатает")
        assert sender.blocked is not None
        sender.blocked.add("anna")  # anna blocks the bot
        await desk.click("boris", "claim", number)  # "Boris took your request" is refused
        assert sender.refused == 1
        desk.new("boris")
        await desk.say("boris", f"/reply {number} Проверьте бумагу")
        cards = [m.text for m in desk.new("boris") if m.ticket_id == number and m.text.startswith(f"#{number} [")]
        assert cards and cards[-1].endswith("\nAnna Ivanova: нет связи в терминале")  # boris reads Russian
        assert sender.refused == 1  # the reply to anna was not attempted

        sender.blocked.clear()  # she unblocks the bot and writes
        await desk.say("anna", f"/reply {number} бумага есть")
        assert any("бумага есть" in m.text for m in desk.new("boris"))
        await desk.say("boris", f"/reply {number} Тогда перезагрузите")
        cards = [m.text for m in desk.new("boris") if m.ticket_id == number and m.text.startswith(f"#{number} [")]
        assert cards and "нет связи" not in cards[-1]
        assert any("Тогда перезагрузите" in m.text for m in desk.new("anna"))
    finally:
        await app.close()


async def test_the_card_line_in_english_names_the_platform(config: Config) -> None:
    from store.models import Ticket

    ticket = Ticket(id=4, team="it", category="hardware", priority="normal", requester_id=1,
                    subject="printer", platform="telegram")
    card = ticket_card(translator("en"), ticket, config, requester="Anna Ivanova", owner=None,
                       unreachable_on="telegram")
    assert card.text.endswith("\nAnna Ivanova cannot be reached on Telegram")
    plain = ticket_card(translator("en"), ticket, config, requester="Anna Ivanova", owner=None)
    assert "cannot be reached" not in plain.text
