"""Files copied from one platform to another: what a sender is given to fetch them.

A sender delivers a file of its own platform by reference (a Telegram ``file_id``, a Slack
permalink). A file of another platform has to be downloaded there and uploaded here: the
sender is given a :data:`FileFetcher` per foreign platform (wired in ``bot.run``), and
says in the reader's language when a file could not be copied (too big, download failed).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable

from handlers.events import Attachment

MB = 1024 * 1024

FileFetcher = Callable[[Attachment], Awaitable[bytes]]
"""Downloads a file of another platform (its content), raising when it cannot."""


class FileTooLarge(Exception):
    """The file is bigger than the receiving platform lets a bot upload (the download stops)."""


class DownloadFailed(Exception):
    """The platform did not hand over the file (an HTTP error, a sign-in page, no URL)."""


def foreign_files(attachments: tuple[Attachment, ...], platform: str) -> list[Attachment]:
    """The attachments that belong to another platform than ``platform``."""
    return [a for a in attachments if a.platform not in ("", platform) and a.file_id]


def upload_name(attachment: Attachment) -> str:
    """The name a copied file gets: its own, or its kind with the type's extension (a
    Telegram photo has no name)."""
    if attachment.name:
        return attachment.name
    extension = mimetypes.guess_extension(attachment.mime_type or "") or (".jpg" if attachment.kind == "photo" else "")
    return f"{attachment.kind or 'file'}{extension}"


__all__ = ["MB", "DownloadFailed", "FileFetcher", "FileTooLarge", "foreign_files", "upload_name"]
