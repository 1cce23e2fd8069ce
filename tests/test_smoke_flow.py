"""The must-show scenario of issue #2, through the engine and outbox."""

from __future__ import annotations

from sqlmodel import select

from store import tickets
from store.models import Status, Ticket
from tests.support.desk import Desk


async def test_vpn_ticket_lifecycle(desk: Desk) -> None:
    await desk.say("anna", "не работает VPN")
    suggestions = desk.last("anna")
    assert "Создать заявку" in suggestions.labels()
    assert any("VPN" in label for label in suggestions.labels())
    await desk.press("anna", "Создать заявку")
    await desk.press("anna", "Да")
    assert "#1" in desk.last("anna").text
    card = desk.last_with_buttons("boris")
    assert card.ticket_id == 1 and "Взять" in card.labels()
    await desk.press("boris", "Взять")
    await desk.say("boris", "/reply 1 Переустановите клиент")
    assert "Переустановите клиент" in desk.last_with_buttons("anna").text
    await desk.say("boris", "/resolve 1")
    assert "5" in desk.last("anna").labels()
    await desk.press("anna", "5")
    async with desk.app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
        actions = [e.action for e in await tickets.events(s, ticket.id)]
    assert ticket.status == Status.CLOSED and ticket.csat == 5
    assert actions == ["create", "claim", "reply", "resolve", "rate", "close"]
