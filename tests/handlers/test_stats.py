"""``/stats`` end to end: a history made through the engine on a fake clock, numbers worked out here."""

from __future__ import annotations

import io

from PIL import Image

from bot.config import Config
from tests.support.clock import FakeClock
from tests.support.scenarios import VPN_ARTICLE, open_desk, open_ticket


async def test_stats_shows_the_numbers_of_the_history(config: Config, db_url: str, clock: FakeClock) -> None:
    async with open_desk(config, db_url, clock) as desk:  # Monday 10:00 in Moscow: working hours
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
        await desk.say("vera", "/stats today")
        await desk.say("vera", "/stats year")

    # By hand: two created, one resolved, the second one open (answered, due in 2 days: not
    # overdue), held by boris. First responses 10m and 30m (all in working hours): nearest-rank
    # median 10m, p90 30m. One resolution after 1h10m, 60 minutes of it waiting on anna (the
    # reply asked her): 10m of resolution time. Both within their SLA (normal: 4h / 2d).
    # One rating of 4, one deflection. Both are anna's, both "hardware": the second is a repeat.
    week, today, wrong = desk.new("vera")
    lines = week.text.splitlines()
    assert lines[:5] == [
        "IT support — stats for the last 7 days",
        "Created 2 · resolved 1 · open now 1 · overdue 0",
        "Business time to first response: median 10m, p90 30m · to resolution: median 10m, p90 10m",
        "SLA breached: 0% of resolved · CSAT 4.0 (ratings: 1)",
        "Open per assignee: Boris Petrov 1",
    ]
    assert f"  #{second} ноутбук не включается — open 30m (Boris Petrov)" in lines
    assert "Repeat requests (same person and category within 7 days): 1 — Anna Ivanova · Hardware and printers ×1" in lines
    assert "KB deflections (whole desk): 1" in lines
    (chart,) = week.files
    assert chart.data is not None
    with Image.open(io.BytesIO(chart.data)) as image:
        assert image.format == "PNG" and image.size == (900, 400)
    assert today.text.splitlines()[:2] == ["IT support — stats for today", lines[1]]
    assert wrong.text == "Usage: /stats [today|week|month|days]" and not wrong.files
