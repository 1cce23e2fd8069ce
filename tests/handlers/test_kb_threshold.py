"""``desk.kb_threshold`` from the config reaches the matcher that :func:`bot.app.build` wires."""

from __future__ import annotations

from typing import Any

from bot.app import build
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender
from tests.support.scenarios import make_config


def threshold(value: float | None) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["desk"]["kb_threshold"] = value

    return change


async def suggested(sqlite_url: str, clock: FakeClock, value: float | None, text: str) -> list[str]:
    """The article slugs anna is offered for ``text`` on a desk built with ``kb_threshold=value``."""
    app = build(make_config(threshold(value)), senders={"console": RecordingSender()},
                database_url=sqlite_url, clock=clock)  # the real bundled KB, as the CLI builds it
    await app.start()
    try:
        desk = await Desk.open(app)
        await desk.say("anna", text)
        return [b.value for b in desk.last("anna").buttons if b.action == "kb_open" and b.value]
    finally:
        await app.close()


async def test_a_high_threshold_suppresses_suggestions_the_default_shows(sqlite_url: str, clock: FakeClock) -> None:
    # "впн капризничает" scores about 0.8 for the VPN article: shown by default, not at 0.95 (the
    # first suggestion must clear the threshold; only the runners-up may score below it)
    default = await suggested(sqlite_url, clock, None, "впн капризничает")
    assert default[:1] == ["vpn-connect-ru"]
    high = await suggested(sqlite_url.replace("desk.db", "high.db"), clock, 0.95, "впн капризничает")
    assert high == []


async def test_a_low_threshold_shows_suggestions_the_default_hides(sqlite_url: str, clock: FakeClock) -> None:
    # "the coffee machine on our floor is broken" shares a word or two with some articles
    # (about 0.1): nothing at the sample KB's threshold (kb.yaml), offered at 0.05
    text = "the coffee machine on our floor is broken"
    assert await suggested(sqlite_url, clock, None, text) == []
    low = await suggested(sqlite_url.replace("desk.db", "low.db"), clock, 0.05, text)
    assert low, "a low threshold offers the weak matches"
