"""handlers.files: sizes, names of unnamed files, and what a relay passes on."""

from __future__ import annotations

from handlers.events import Attachment
from handlers.files import MB, file_line, human_size, relayed, too_big
from handlers.texts import t, translator


def _file(size: int, *, name: str = "", kind: str = "photo", platform: str = "telegram") -> Attachment:
    return Attachment(name=name, mime_type="", size=size, file_id=f"id{size}", kind=kind, platform=platform)


def test_sizes_read_like_a_file_manager() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536 * 1024, 20 * MB, 3 * 1024 * MB)] == [
        "0 B", "1023 B", "1 KB", "1.5 MB", "20 MB", "3 GB"]


def test_a_photo_without_a_name_is_called_by_its_kind_in_the_readers_language() -> None:
    assert file_line(translator("ru"), _file(2048)) == "📎 фото (2 KB)"
    assert file_line(translator("en"), _file(10, kind="voice")) == "📎 voice message (10 B)"
    assert file_line(translator("en"), _file(10, kind="sticker_set")) == "📎 sticker_set (10 B)"


def test_the_limit_is_the_source_platforms() -> None:
    assert too_big(_file(20 * MB + 1)) and not too_big(_file(20 * MB))
    assert not too_big(_file(500 * MB, platform="slack"))  # no known limit there


def test_a_relay_attaches_what_fits_and_notes_the_rest() -> None:
    small, big = _file(100, name="a.png"), _file(30 * MB, name="b.mov", kind="video")
    text, passed = relayed(translator("en"), "look", [small, big])
    assert passed == (small,)
    assert text.splitlines() == [
        "look", "📎 a.png (100 B)", t("file_too_big_relay", "en", name="b.mov", size="30 MB", limit="20 MB")]
