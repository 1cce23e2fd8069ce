"""The on-disk index cache (kb/cache.py): a restart with an unchanged KB does not rebuild."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kb.articles import default_kb_dir
from kb.cache import IndexCache, KbSource, default_cache_dir
from kb.index import Index
from kb.matcher import Matcher
from tests.kb.conftest import WriteArticle, article_text

ROOT = Path(__file__).resolve().parents[2]
QUERIES = [
    "не работает впн",
    "vpn not working",
    "забыл пароль",
    "gfhjkm",  # layout slip: пароль
    "pasword reset",  # typo: the symmetric-delete index
    "купить слона",
]


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts Index builds (each entry: the number of articles indexed)."""
    calls: list[int] = []
    original = Index.__init__

    def counting(self: Index, articles, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        calls.append(len(articles))
        original(self, articles, *a, **kw)

    monkeypatch.setattr(Index, "__init__", counting)
    return calls


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "kb"
    shutil.copytree(default_kb_dir(), directory)
    return directory


def _results(matcher: Matcher) -> list[list[tuple[str, float]]]:
    return [[(s.slug, s.score) for s in matcher.search(q, limit=3)] for q in QUERIES]


def test_default_dir_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "deskbot" / "kb"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "deskbot" / "kb"


def test_tests_never_use_the_real_home() -> None:
    assert not str(default_cache_dir()).startswith(str(Path.home() / ".cache"))


def test_hit_does_not_rebuild_and_gives_identical_results(
    kb_dir: Path, tmp_path: Path, builds: list[int]
) -> None:
    cache = tmp_path / "cache"
    cold = Matcher.from_dir(kb_dir, cache_dir=cache)
    assert len(builds) == 1 and builds[0] == len(cold.articles) > 10
    assert len(list(cache.glob("*.idx"))) == 1
    warm = Matcher.from_dir(kb_dir, cache_dir=cache)
    assert len(builds) == 1  # loaded, not built
    assert warm.articles == cold.articles
    uncached = Matcher(list(cold.articles), synonyms=cold.synonyms, threshold=cold.threshold)
    assert len(builds) == 2
    assert _results(warm) == _results(cold) == _results(uncached)
    assert any(_results(warm))  # the queries do find articles
    # the typo index survived the round trip
    np.testing.assert_array_equal(warm._index._del_hash, uncached._index._del_hash)


def test_typo_keys_are_stable_across_processes(tmp_path: Path) -> None:
    """The index is written by one process and read by another: no per-process hash()."""
    code = "from kb.index import _key; print(_key('пароль'), _key('vpn'), hash('vpn'))"
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, check=True).stdout)
    keys = {out.rsplit(" ", 1)[0] for out in outs}
    assert len(outs) == 2 and len(keys) == 1  # hash() differs between the runs, _key does not


def test_edited_article_changes_the_key_and_rebuilds(
    write_article: WriteArticle, tmp_path: Path, builds: list[int]
) -> None:
    write_article("vpn", title="VPN does not connect")
    write_article("printer", title="Printer is offline", questions=("printer not printing",),
                  tags=("printer",), body="Turn it off and on.")
    cache = tmp_path / "cache"
    kb_dir = tmp_path
    key_before = KbSource.read(kb_dir).key({"p": 1})
    Matcher.from_dir(kb_dir, cache_dir=cache)
    assert len(builds) == 1
    write_article("printer", title="Printer is offline", questions=("printer not printing",),
                  tags=("printer",), body="Check the cable, then turn it off and on.")
    assert KbSource.read(kb_dir).key({"p": 1}) != key_before
    assert KbSource.read(kb_dir).key({"p": 2}) != KbSource.read(kb_dir).key({"p": 1})
    m = Matcher.from_dir(kb_dir, cache_dir=cache)
    assert len(builds) == 2
    assert "Check the cable" in (m.article("printer").body if m.article("printer") else "")
    assert len(list(cache.glob("*.idx"))) == 2  # both kept (KEEP_ENTRIES per KB)
    # a synonyms file is part of the key too
    (kb_dir / "synonyms.yaml").write_text("- [mfa, 2fa]\n", encoding="utf-8")
    key_with = KbSource.read(kb_dir).key({"p": 1})
    (kb_dir / "synonyms.yaml").write_text("- [mfa, 2fa, otp]\n", encoding="utf-8")
    assert KbSource.read(kb_dir).key({"p": 1}) != key_with


def test_code_version_is_part_of_the_key(
    kb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = KbSource.read(kb_dir)
    before = source.key({"p": 1})
    monkeypatch.setattr("kb.cache.INDEX_VERSION", 999)
    assert source.key({"p": 1}) != before


def test_reload_uses_the_cache(write_article: WriteArticle, tmp_path: Path, builds: list[int]) -> None:
    path = write_article("vpn")
    cache = tmp_path / "cache"
    m = Matcher.from_dir(tmp_path, cache_dir=cache)
    original = path.read_text(encoding="utf-8")
    path.write_text(article_text(body="Reinstall the client."), encoding="utf-8")
    assert m.reload_if_changed()
    assert len(builds) == 2 and m.article("vpn").body == "Reinstall the client."  # type: ignore[union-attr]
    # back to the first content: its entry is still cached, so this loads it
    path.write_text(original, encoding="utf-8")
    assert m.reload_if_changed()
    assert m.article("vpn").body == "Restart the VPN client."  # type: ignore[union-attr]
    assert len(builds) == 2
    Matcher.from_dir(tmp_path, cache_dir=cache)
    assert len(builds) == 2  # the start loaded it too


def test_only_the_most_recently_used_entries_are_kept(
    write_article: WriteArticle, tmp_path: Path, builds: list[int]
) -> None:
    from kb.cache import KEEP_ENTRIES

    path = write_article("vpn")
    cache = tmp_path / "cache"
    m = Matcher.from_dir(tmp_path, cache_dir=cache)
    for n in range(KEEP_ENTRIES + 2):
        path.write_text(article_text(body=f"Reinstall the client, take {n}."), encoding="utf-8")
        assert m.reload_if_changed()
        assert m.article("vpn").body == f"Reinstall the client, take {n}."  # type: ignore[union-attr]
    assert len(builds) == KEEP_ENTRIES + 3
    assert len(list(cache.glob("*.idx"))) == KEEP_ENTRIES


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:-10] + b"x" * 10, id="corrupt-payload"),
        pytest.param(lambda data: b"garbage" * 100, id="foreign"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_damaged_file_is_ignored_with_one_warning_and_rebuilt(
    kb_dir: Path, tmp_path: Path, builds: list[int], caplog: pytest.LogCaptureFixture, damage
) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_path / "cache"
    good = _results(Matcher.from_dir(kb_dir, cache_dir=cache))
    (entry,) = cache.glob("*.idx")
    entry.write_bytes(damage(entry.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="kb.cache"):
        m = Matcher.from_dir(kb_dir, cache_dir=cache)
    assert len(builds) == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "rebuilding" in warnings[0].getMessage()
    assert _results(m) == good
    # the rebuilt index replaced the damaged entry: the next start loads it silently
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kb.cache"):
        Matcher.from_dir(kb_dir, cache_dir=cache)
    assert len(builds) == 2 and not caplog.records


def test_entry_of_another_index_class_is_ignored(
    kb_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = IndexCache(tmp_path / "cache")
    source = KbSource.read(kb_dir)
    key = source.key({"p": 1})
    cache.store(kb_dir, key, {"not": "an index"})
    with caplog.at_level(logging.WARNING, logger="kb.cache"):
        assert cache.load(kb_dir, key, Index) is None
    assert len(caplog.records) == 1 and "not a Index" in caplog.records[0].getMessage()
    # an entry under one key is not served for another
    assert cache.load(kb_dir, source.key({"p": 2}), Index) is None


def test_unwritable_dir_still_works(
    kb_dir: Path, tmp_path: Path, builds: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    cache = blocker / "cache"  # cannot be created: its parent is a file (fails for root too)
    with caplog.at_level(logging.WARNING, logger="kb.cache"):
        m = Matcher.from_dir(kb_dir, cache_dir=cache)
    assert [s.slug for s in m.search("не работает впн", limit=1)] == ["vpn-connect-ru"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not written" in warnings[0].getMessage()
    assert len(builds) == 1
    Matcher.from_dir(kb_dir, cache_dir=cache)
    assert len(builds) == 2  # nothing cached, so it builds again, and still works


def test_bad_article_is_still_an_error(write_article: WriteArticle, tmp_path: Path) -> None:
    from kb.errors import KbError

    write_article("bad", text="no front matter")
    with pytest.raises(KbError, match="bad.md"):
        Matcher.from_dir(tmp_path, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # nothing was stored for a KB that does not load



def test_learned_questions_are_part_of_the_cache_key(kb_dir: Path, tmp_path: Path, builds: list[int]) -> None:
    """A cached index built without learned questions must not serve a matcher that has
    some (and the other way round): they are merged into the index before it is built."""
    cache = tmp_path / "cache"
    query = "квакозябры на табло у лифта"  # words no article has
    plain = Matcher.from_dir(kb_dir, cache_dir=cache)
    assert plain.search(query) == []
    learned = {"printer-ru": [query]}
    with_learned = Matcher.from_dir(kb_dir, cache_dir=cache, extra_questions=learned)
    assert len(builds) == 2  # a new key: built, not loaded from the plain entry
    assert [s.slug for s in with_learned.search(query)][:1] == ["printer-ru"]
    again = Matcher.from_dir(kb_dir, cache_dir=cache, extra_questions=learned)
    assert len(builds) == 2  # the learned entry is now cached too
    assert [s.slug for s in again.search(query)][:1] == ["printer-ru"]
    assert Matcher.from_dir(kb_dir, cache_dir=cache).search(query) == []
    assert len(builds) == 2  # both entries are kept: a desk starts plain, then adds what it learned
