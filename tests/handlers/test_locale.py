"""Every card and message is written in its reader's language (issue 7, section 3)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Config
from tests.support.clock import FakeClock
from tests.support.desk import Desk, Received
from tests.support.scenarios import make_config, open_desk, open_ticket

PRINTER = "принтер не печатает"


def cards(msgs: list[Received], number: int) -> list[Received]:
    return [m for m in msgs if m.ticket_id == number]


def boris_speaks(locale: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["people"]["boris"]["locale"] = locale

    return change


@pytest.mark.parametrize(("locale", "claim", "escalate", "word"), [
    ("ru", "Взять", "Эскалировать", "Статус"),
    ("en", "Claim", "Escalate", "Status"),
])
async def test_card_edits_stay_in_the_agents_language(
    db_url: str, clock: FakeClock, locale: str, claim: str, escalate: str, word: str
) -> None:
    config: Config = make_config(boris_speaks(locale))
    async with open_desk(config, db_url, clock) as desk:
        number = await open_ticket(desk, "anna", PRINTER)
        first = cards(desk.new("boris"), number)
        assert len(first) == 1 and word in first[0].text
        await desk.press("boris", claim)
        claimed = [m for m in cards(desk.new("boris"), number) if m.edited]
        assert claimed and all(word in m.text for m in claimed)
        await desk.press("boris", escalate)
        edited = [m for m in cards(desk.new("boris"), number) if m.edited]
        assert edited, "boris's card was not edited after the escalation"
        assert all(word in m.text for m in edited), [m.text for m in edited]
        # vera (en) reads the L2 card in English whatever boris speaks
        l2 = cards(desk.new("vera"), number)
        assert l2 and all("Status" in m.text for m in l2)
