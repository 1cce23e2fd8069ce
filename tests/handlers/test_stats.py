"""``/stats`` end to end: a history made through the engine on a fake clock, numbers worked out here."""

from __future__ import annotations

from bot.config import Config
from tests.support.clock import FakeClock
from tests.support.scenarios import VPN_ARTICLE, open_desk, open_ticket


async def test_stats_shows_the_numbers_of_the_history(config: Config, db_url: str, clock: FakeClock) -> None:
    async with open_desk(config, db_url, clock) as desk:
        first = await open_ticket(desk, "anna", "принтер не печатает")  # created at t0
        clock.advance(minutes=10)
        await desk.click("boris", "claim", first)
        await desk.say("boris", f"/reply {first} Проверьте бумагу")  # first response after 10 minutes
        clock.advance(minutes=60)
        await desk.say("boris", f"/resolve {first}")  # resolved after 1h10m (the button asks for a note)
        await desk.click("anna", "rate", first, "4")
        await desk.click("anna", "csat_skip", first)  # no comment
        second = await open_ticket(desk, "anna", "ноутбук не включается")
        clock.advance(minutes=30)
        await desk.click("boris", "claim", second)
        await desk.say("boris", f"/reply {second} Он заряжен?")  # first response after 30 minutes
        await desk.say("anna", "/new не работает VPN")  # a deflection (/new: #2 is waiting on anna)
        await desk.click("anna", "kb_open", None, VPN_ARTICLE.slug)
        await desk.click("anna", "kb_solved")
        desk.new("vera")
        await desk.say("vera", "/stats")

    # By hand: two created, one resolved, the second one open (answered, due in 2 days: not
    # overdue). First responses 10m and 30m: nearest-rank median 10m, p90 30m. One resolution
    # of 1h10m. Both within their SLA (normal: 4h / 2d). One rating of 4, one deflection.
    stats = [m.text for m in desk.new("vera") if "Stats for" in m.text]
    assert stats == [
        "Stats for the last 7 days · IT support:\n"
        "created 2 · resolved 1 · open now 1 · overdue 0\n"
        "first response median 10m (p90 30m) · resolution median 1h 10m (p90 1h 10m)\n"
        "SLA breached 0% · CSAT 4.0 (1) · KB deflections 1"
    ]
