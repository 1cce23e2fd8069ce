"""The whole life of a ticket in Slack, and one ticket across Telegram and Slack, end to end.

Real slack-bolt receives signed HTTP requests from the fake Slack Web API on loopback, the
real engine decides on a real database, the real outbox worker delivers through the real
Slack sender back to the fake. The story is the conversation issue's (anna in a DM with
the app, boris in the IT channel's card thread). The cross-platform test runs Telegram
(fake Bot API, real aiogram) and Slack in one desk: anna writes in Telegram with a photo,
boris claims and answers in Slack.
"""

from __future__ import annotations

from typing import Any

from handlers.texts import translator
from store.models import Status
from tests.support.story import WAIT, desk, tg_button, with_button

ru = translator("ru")

PROBLEM = "не печатает принтер на третьем этаже"
QUESTION = "Какая модель принтера и что пишет на экране?"
ANSWER = "HP LaserJet 400 <!channel> <@U123> <http://evil|Reset password> & co"
NOTE = "Убрали замятую бумагу, принтер печатает"
NOT_FIXED = "не помогло, опять замятие"
REASON = "Замятие повторяется — нужен ремонт узла подачи"


async def test_the_whole_story_in_slack(db_url: str) -> None:
    async with desk(db_url) as d:
        anna, boris, vera, it, fake = d.anna, d.boris, d.vera, d.it, d.slack
        team = translator(d.app.config.teams["it"].locale or d.app.config.desk.default_locale)

        # anna DMs the app; the KB answers first, she opens a ticket with the guessed category.
        await anna.says(PROBLEM)
        offer = await with_button(anna, ru("btn_open_ticket"))
        await anna.presses(offer, ru("btn_open_ticket"))
        yes = ru("btn_yes_category", category="").strip(" ,")
        guess = await with_button(anna, yes)
        await anna.presses(guess, next(b for b in guess.buttons if b.startswith(yes)))
        created = await anna.sees("#1")

        # The card in the IT channel; its thread is the ticket's conversation.
        card = await with_button(it, team("btn_claim"))
        await boris.presses(card, team("btn_claim"))
        await fake.wait_for(lambda: team("btn_claim") not in card.buttons or None, WAIT)  # updated in place
        assert "Boris" in card.text

        await boris.says(QUESTION, channel=it, thread_ts=card.ts)
        asked = await anna.sees(QUESTION, timeout=WAIT)
        root = asked.thread_ts or created.ts  # anna's side of the ticket: the thread of "#1 created"

        # anna's plain answer (in her ticket's thread) shows in the card's thread, literally.
        await anna.says(ANSWER, thread_ts=root)
        shown = await it.sees("HP LaserJet 400", thread_ts=card.ts, timeout=WAIT)
        assert shown.mentions == [] and shown.links == []  # <!channel>, <@U123>, the link stay inert
        # escaped once: Slack shows these characters literally
        assert "&lt;!channel&gt;" in shown.text and "&lt;http://evil|Reset password&gt; &amp; co" in shown.text

        await boris.says(f"/resolve {NOTE}", channel=it, thread_ts=card.ts)
        await anna.sees(NOTE, timeout=WAIT)
        assert (await d.ticket()).status == Status.RESOLVED

        await anna.says(NOT_FIXED, thread_ts=root)
        reopen_label = ru("btn_reopen_n", n=1)
        reopen = await with_button(anna, reopen_label, root)
        await anna.presses(reopen, reopen_label)
        await it.sees(NOT_FIXED[:12], thread_ts=card.ts, timeout=WAIT)
        assert (await d.ticket()).status != Status.RESOLVED

        await boris.says(f"/escalate {REASON}", channel=it, thread_ts=card.ts)
        told = await anna.sees(ru("escalated_requester", n=1)[:30], timeout=WAIT)
        assert "L2" not in told.text and "Boris" not in told.text
        assert (await d.ticket()).tier == "L2"

        await vera.says("/ticket 1")
        history = (await vera.sees(NOTE, timeout=WAIT)).text
        parts = [PROBLEM, QUESTION, "HP LaserJet 400", NOTE, NOT_FIXED, REASON]
        where = [history.find(p) for p in parts]
        assert -1 not in where, (parts, history)
        assert where == sorted(where), history


async def test_a_telegram_ticket_with_a_photo_is_handled_in_slack(sqlite_url: str) -> None:
    async with desk(sqlite_url, with_telegram=True) as d:
        assert d.telegram is not None
        tg, it, boris = d.telegram, d.it, d.boris
        anna = tg.user(100001, "Anna", language_code="ru")
        tg_it = tg.group(-1001000000001, "IT")
        team = translator(d.app.config.teams["it"].locale or d.app.config.desk.default_locale)

        await anna.says(PROBLEM)
        await anna.presses(await tg_button(anna, ru("btn_open_ticket")), ru("btn_open_ticket"))
        yes = ru("btn_yes_category", category="").strip(" ,")
        guess = await tg_button(anna, yes)
        await anna.presses(guess, next(b for b in guess.buttons if b.startswith(yes)))
        created = await anna.sees("#1", timeout=WAIT)
        await d.recorded("telegram", anna.id, created.message_id)
        photo = await anna.sends_photo("вот экран", reply_to=created)

        # boris claims in Slack; the Telegram group's card follows.
        card = await with_button(it, team("btn_claim"))
        tg_card = await tg_button(tg_it, team("btn_claim"))  # the same ticket's card in the Telegram group
        await boris.presses(card, team("btn_claim"))
        await it.sees("Boris", timeout=WAIT)
        await tg.wait_for(lambda: "Boris" in tg_card.text or None, WAIT)

        # The photo was copied into the card's thread in Slack.
        await it.sees("вот экран", thread_ts=card.ts, timeout=WAIT)
        uploads = await d.slack.wait_for(lambda: d.slack.calls_of("files.completeUploadExternal") or None, WAIT)
        assert uploads and photo["photo"][-1]["file_id"]

        # boris answers in Slack; anna gets it in Telegram.
        await boris.says(QUESTION, channel=it, thread_ts=card.ts)
        await anna.sees(QUESTION, timeout=WAIT)


async def _telegram_ticket_claimed_in_slack(d: Any) -> tuple[Any, Any]:
    """anna opens #1 in Telegram, boris claims it in Slack: (anna, the Slack card)."""
    assert d.telegram is not None
    anna = d.telegram.user(100001, "Anna", language_code="ru")
    d.telegram.group(-1001000000001, "IT")
    team = translator(d.app.config.teams["it"].locale or d.app.config.desk.default_locale)
    await anna.says(PROBLEM)
    await anna.presses(await tg_button(anna, ru("btn_open_ticket")), ru("btn_open_ticket"))
    yes = ru("btn_yes_category", category="").strip(" ,")
    guess = await tg_button(anna, yes)
    await anna.presses(guess, next(b for b in guess.buttons if b.startswith(yes)))
    await anna.sees("#1", timeout=WAIT)
    card = await with_button(d.it, team("btn_claim"))
    await d.boris.presses(card, team("btn_claim"))
    await d.it.sees("Boris", timeout=WAIT)
    return anna, card


def _uploads(anna: Any) -> list[dict[str, Any]]:
    """The files the bot uploaded into anna's Telegram chat (kind, name, size, thread)."""
    return [{**m.media, "thread": m.thread_id} for m in anna.messages() if m.media is not None]


async def test_a_slack_file_reaches_telegram_as_a_document(sqlite_url: str, caplog: Any) -> None:
    log = b"2026-12-02 10:01 vpn: TLS handshake failed\n" * 50
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 2000
    async with desk(sqlite_url, with_telegram=True) as d:
        anna, card = await _telegram_ticket_claimed_in_slack(d)

        # A log and a screenshot from boris in the card's thread: a document and a photo for anna.
        await d.boris.says("Пришлите, пожалуйста, такой же лог", channel=d.it, thread_ts=card.ts,
                           files=[("vpn.log", log), ("screen.png", png)])
        text = await anna.sees("такой же лог", timeout=WAIT)
        files = await d.telegram.wait_for(lambda: len(_uploads(anna)) >= 2 and _uploads(anna), WAIT)
        assert [(f["kind"], f.get("file_name"), f["file_size"]) for f in files] == [
            ("document", "vpn.log", len(log)), ("photo", None, len(png))]
        assert {f["thread"] for f in files} == {text.thread_id}  # where the ticket's messages are
        assert "не приложен" not in text.text

        # Over Telegram's 50 MB for a bot's upload: a note in anna's language, the text still there.
        big = b"\0" * (50 * 1024 * 1024 + 1)
        await d.boris.says("Вот полный дамп", channel=d.it, thread_ts=card.ts, files=[("dump.bin", big)])
        dump = await anna.sees("Вот полный дамп", timeout=WAIT)
        assert ru("file_not_copied_too_big", name="dump.bin", size="50 MB", limit="50 MB", platform="Telegram",
                  source="Slack")[:40] in dump.text
        assert "dump.bin" in dump.text and len(_uploads(anna)) == 2

        # A file Slack no longer hands over (deleted before the bot fetched it): a note, the text.
        real_add = d.slack.add_file

        def deleted_at_once(*args: Any, **kwargs: Any) -> dict[str, Any]:
            record = real_add(*args, **kwargs)
            d.slack.files.pop(record["id"])
            return record

        d.slack.add_file = deleted_at_once  # type: ignore[method-assign]
        await d.boris.says("И конфиг", channel=d.it, thread_ts=card.ts, files=[("vpn.conf", b"remote x")])
        conf = await anna.sees("И конфиг", timeout=WAIT)
        assert ru("file_not_copied", name="vpn.conf", source="Slack") in conf.text
        assert len(_uploads(anna)) == 2
        assert all(d.front.client.token not in r.getMessage() for r in caplog.records)
