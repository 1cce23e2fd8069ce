"""Fetching a Slack file for another platform (bot.slack.files): files.info, then the private
URL with the bot token; Slack's sign-in page, a file over the receiving platform's limit
and a missing file are failures, and no failure carries the token."""

from __future__ import annotations

import pytest

from bot.files import DownloadFailed, FileTooLarge
from bot.slack.files import download, slack_fetcher
from bot.slack.translate import attachments_of
from handlers.events import Attachment
from tests.fakes.slack import FakeSlack
from tests.support.slack import client_for

LIMIT = 4096


def shared(record: dict[str, object]) -> Attachment:
    """The attachment the Slack frontend makes of a file shared in a message."""
    (attachment,) = attachments_of({"files": [{k: v for k, v in record.items() if not k.startswith("_")}]})
    return attachment


async def test_a_file_is_downloaded_with_the_bot_token() -> None:
    async with FakeSlack(rate_limits=False) as fake:
        content = b"line\n" * 100
        record = fake.add_file("vpn.log", content)
        fetch = slack_fetcher(client_for(fake), max_bytes=LIMIT)
        assert await fetch(shared(record)) == content
        assert [c.method for c in fake.calls if c.method.startswith("files.")] == ["files.info"]


async def test_the_sign_in_page_is_never_taken_for_the_file() -> None:
    async with FakeSlack(rate_limits=False) as fake:
        record = fake.add_file("vpn.log", b"secret log")
        wrong = "xoxb-0000-0000-notTheBotsToken"
        with pytest.raises(DownloadFailed, match="sign-in page") as caught:
            await download(str(record["url_private_download"]), wrong, max_bytes=LIMIT)
        assert wrong not in str(caught.value) and fake.token not in str(caught.value)


async def test_a_file_over_the_limit_is_not_fetched_whole() -> None:
    async with FakeSlack(rate_limits=False) as fake:
        record = fake.add_file("dump.bin", b"\0" * (LIMIT + 1))
        fetch = slack_fetcher(client_for(fake), max_bytes=LIMIT)
        with pytest.raises(FileTooLarge):  # Slack says how big it is: not even asked for
            await fetch(shared(record))
        assert not [c for c in fake.calls if c.method == "files.info"]
        with pytest.raises(FileTooLarge):  # files.info says so where the message did not
            await fetch(Attachment(name="dump.bin", mime_type="", size=0, file_id=str(record["id"]), kind="file",
                                   platform="slack"))
        with pytest.raises(FileTooLarge):  # and the download itself stops at the limit
            await download(str(record["url_private_download"]), fake.token, max_bytes=LIMIT)


async def test_a_deleted_file_is_a_failure_without_the_token() -> None:
    async with FakeSlack(rate_limits=False) as fake:
        record = fake.add_file("gone.txt", b"x")
        fake.files.pop(str(record["id"]))
        fetch = slack_fetcher(client_for(fake), max_bytes=LIMIT)
        with pytest.raises(Exception) as caught:  # noqa: PT011 — slack_sdk's error for file_not_found
            await fetch(shared(record))
        assert "file_not_found" in str(caught.value) and fake.token not in str(caught.value)
