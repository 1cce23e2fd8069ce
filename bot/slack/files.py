"""Downloading a Slack file for another platform (a Slack file on a ticket read in Telegram).

``files.info`` gives the file's ``url_private_download`` (or ``url_private``); the content is
fetched from it with ``Authorization: Bearer <bot token>``. Slack answers a request it does
not accept there with its HTML sign-in page and a 200, so an HTML answer is a failure,
never a file to pass on. The download stops past ``max_bytes`` (the receiving platform's
upload limit): a file Slack reports bigger is not fetched at all.

Errors never carry the token: they name what went wrong (HTTP status, the page type).
"""

from __future__ import annotations

from aiohttp import ClientSession, ClientTimeout
from slack_sdk.web.async_client import AsyncWebClient

from bot.files import DownloadFailed, FileFetcher, FileTooLarge
from handlers.events import Attachment

DOWNLOAD_TIMEOUT = 60.0
CHUNK = 64 * 1024
LOGIN_PAGE = "text/html"  # what Slack serves instead of a file it will not hand over


def slack_fetcher(client: AsyncWebClient, *, max_bytes: int) -> FileFetcher:
    """A Slack file's content through ``files.info`` and its private URL (bot token)."""

    async def fetch(attachment: Attachment) -> bytes:
        if attachment.size > max_bytes:
            raise FileTooLarge(f"{attachment.size} bytes")
        info = await client.files_info(file=attachment.file_id)
        file = info.get("file")
        if not isinstance(file, dict):
            file = {}
        url = file.get("url_private_download") or file.get("url_private")
        if not url:
            raise DownloadFailed("files.info gave no url_private")
        if int(file.get("size") or 0) > max_bytes:
            raise FileTooLarge(f"{file.get('size')} bytes")
        return await download(str(url), client.token or "", max_bytes=max_bytes, proxy=client.proxy)

    return fetch


async def download(url: str, token: str, *, max_bytes: int, proxy: str | None = None) -> bytes:
    """GET a private Slack URL with the bot token; at most ``max_bytes``."""
    async with ClientSession(timeout=ClientTimeout(total=DOWNLOAD_TIMEOUT)) as http, http.get(
        url, headers={"Authorization": f"Bearer {token}"}, proxy=proxy,
    ) as resp:
        if resp.status != 200:
            raise DownloadFailed(f"HTTP {resp.status}")
        if resp.content_type == LOGIN_PAGE:
            raise DownloadFailed("Slack answered with a sign-in page instead of the file")
        if resp.content_length is not None and resp.content_length > max_bytes:
            raise FileTooLarge(f"{resp.content_length} bytes")
        data = bytearray()
        async for chunk in resp.content.iter_chunked(CHUNK):
            data += chunk
            if len(data) > max_bytes:
                raise FileTooLarge(f"over {max_bytes} bytes")
        return bytes(data)


__all__ = ["download", "slack_fetcher"]
