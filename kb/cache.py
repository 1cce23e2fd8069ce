"""On-disk cache of a KB's built index, so a restart with an unchanged KB does not rebuild it.

Building the index of a large KB takes minutes (100,000 articles: YAML parsing, stemming,
postings, centroids, the typo index); loading a pickled one takes seconds. An entry is
keyed by a SHA-256 over:

- every file the matcher reads (each article's name and bytes, and ``synonyms.yaml`` if
  the KB has one), so any edit gives a new key;
- the matcher's build parameters (its kind and field weights; a subclass adds its own);
- :data:`INDEX_VERSION` and a hash of the ``kb/*.py`` source, so a code change never
  loads an index built by other code;
- the Python version (pickle is read by the interpreter that wrote it).

One file per KB directory (``<directory hash>-<key>.idx``; a new entry replaces the KB's
older one), written atomically (temporary file + ``os.replace``). A file that is
truncated, corrupt, written by other code or for another key is ignored with one
warning and the index is rebuilt; a directory that cannot be written only logs a
warning. The payload is a pickle checked against a SHA-256 in its header; the cache
directory is trusted like the code (it lives in the user's own cache directory).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from kb.articles import Article, article_files, parse_article
from kb.errors import KbError

__all__ = [
    "INDEX_VERSION",
    "KB_EXTRA_FILES",
    "IndexCache",
    "KbSource",
    "default_cache_dir",
    "source_hash",
]

log = logging.getLogger(__name__)

# Bump when the pickled index's layout changes in a way the source hash would not catch.
INDEX_VERSION = 2  # 2: aliases and synonym sets in the index
# Files besides the articles that shape the index, hashed into the key when present.
KB_EXTRA_FILES = ("synonyms.yaml", "synonyms.yml")
_MAGIC = b"deskbot-kb-index\n"
_HEADER = len(_MAGIC) + 32 + 32  # magic, key digest, payload digest


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/deskbot/kb``, or ``~/.cache/deskbot/kb``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deskbot" / "kb"


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while millions of objects are made at once
    (unpickling or building a large index): each young-generation overflow would otherwise
    trigger collections that walk the growing heap again and again — at 100,000 articles a
    third of the warm start. The objects made are plain data (no cycles to collect later)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@lru_cache(maxsize=1)
def source_hash() -> str:
    """SHA-256 over the ``kb/*.py`` files (names and contents) of this installation."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _decode(path: Path, data: bytes) -> Article:
    """An article from the bytes of its file (the errors of :func:`kb.articles.load_article`)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KbError(f"{path.name}: not valid UTF-8 text") from None
    return parse_article(path.stem, text, path.name)


@dataclass(frozen=True)
class KbSource:
    """The files of a KB directory, read once: hashed for the key and parsed on a miss
    (the same bytes, so an entry never holds other content than its key says)."""

    directory: Path
    files: tuple[tuple[Path, bytes], ...]  # articles, sorted by name, then extra files
    cache_dir: Path | str | None = None  # where its index is cached (None: the default)

    @classmethod
    def read(cls, directory: Path, cache_dir: Path | str | None = None) -> KbSource:
        directory = Path(directory)
        if not directory.is_dir():
            raise KbError(f"{directory}: KB directory does not exist")
        paths = article_files(directory)
        paths += [p for p in (directory / n for n in KB_EXTRA_FILES) if p.is_file()]
        files = []
        for path in paths:
            try:
                files.append((path, path.read_bytes()))
            except OSError as exc:
                raise KbError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
        return cls(directory, tuple(files), cache_dir)

    def articles(self) -> list[Article]:
        """The articles, parsed (raises :class:`KbError` naming a bad file)."""
        return [_decode(p, data) for p, data in self.files if p.suffix == ".md"]

    def key(self, params: Mapping[str, Any], extra: bytes = b"") -> str:
        """The cache key for these files built with ``params`` (JSON-serialisable);
        ``extra``: anything else the index is built from (e.g. learned questions)."""
        h = hashlib.sha256()
        head = {
            "index_version": INDEX_VERSION,
            "source": source_hash(),
            "python": list(sys.version_info[:2]),
            "params": params,
        }
        h.update(json.dumps(head, sort_keys=True, default=str).encode() + b"\0")
        for path, data in self.files:
            name = path.name.encode()
            h.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big") + data)
        h.update(len(extra).to_bytes(8, "big") + extra)
        return h.hexdigest()


# Entries kept per KB directory (see IndexCache._evict).
KEEP_ENTRIES = 3


class IndexCache:
    """Cache entries of built indexes in one directory (``None``: :func:`default_cache_dir`)."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()

    def _path(self, kb_dir: Path, key: str) -> Path:
        return self.directory / f"{self._prefix(kb_dir)}-{key}.idx"

    @staticmethod
    def _prefix(kb_dir: Path) -> str:
        return hashlib.sha256(str(Path(kb_dir).resolve()).encode()).hexdigest()[:16]

    def load(self, kb_dir: Path, key: str, kind: type) -> Any | None:
        """The cached index for ``key`` if there is a sound one of class ``kind``, else ``None``
        (a missing entry is silent; an unreadable, corrupt or foreign one logs a warning)."""
        path = self._path(kb_dir, key)
        try:
            with path.open("rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None  # no entry (or no cache directory): store() reports an unusable one
        except OSError as exc:
            log.warning("kb index cache %s unreadable, rebuilding: %s", path, exc)
            return None
        problem = ""
        if len(data) < _HEADER or not data.startswith(_MAGIC):
            problem = "not a deskbot index cache file"
        elif data[len(_MAGIC) : len(_MAGIC) + 32] != bytes.fromhex(key):
            problem = "written for another key"
        elif data[len(_MAGIC) + 32 : _HEADER] != hashlib.sha256(memoryview(data)[_HEADER:]).digest():
            problem = "checksum mismatch (truncated or corrupt)"
        if problem:
            log.warning("kb index cache %s ignored, rebuilding: %s", path, problem)
            return None
        try:
            with paused_gc():
                index = pickle.loads(memoryview(data)[_HEADER:])
        except Exception as exc:  # any unpickling failure means: rebuild
            log.warning("kb index cache %s ignored, rebuilding: cannot unpickle: %r", path, exc)
            return None
        if type(index) is not kind:
            log.warning(
                "kb index cache %s ignored, rebuilding: holds a %s, not a %s",
                path, type(index).__name__, kind.__name__,
            )
            return None
        try:
            os.utime(path)  # most recently used: kept by _evict
        except OSError:
            pass
        return index

    def store(self, kb_dir: Path, key: str, index: Any) -> bool:
        """Write the entry atomically and keep the KB's most recently used entries; ``False`` (and a
        warning) if the directory cannot be written."""
        path = self._path(kb_dir, key)
        tmp: str | None = None
        try:
            payload = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".idx", dir=self.directory)
            with os.fdopen(fd, "wb") as f:
                f.write(_MAGIC + bytes.fromhex(key) + hashlib.sha256(payload).digest())
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            tmp = None
        except (OSError, pickle.PicklingError) as exc:
            log.warning("kb index cache not written to %s: %s", self.directory, exc)
            return False
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        self._evict(kb_dir, keep=path)
        return True

    def _evict(self, kb_dir: Path, keep: Path) -> None:
        """Keep the KB's :data:`KEEP_ENTRIES` most recently used entries. More than one:
        a desk starts from the files alone and then adds the learned questions, and both
        indexes should stay cached."""
        entries = []
        for entry in self.directory.glob(f"{self._prefix(kb_dir)}-*.idx"):
            try:
                entries.append((entry.stat().st_mtime, entry))
            except OSError:
                pass
        entries.sort(reverse=True)
        for _, old in entries[KEEP_ENTRIES:]:
            if old != keep:
                try:
                    old.unlink()
                except OSError:
                    pass


def cached_index(
    source: KbSource,
    cache: IndexCache,
    params: Mapping[str, Any],
    kind: type,
    build: Any,
    extra: bytes = b"",
) -> Any:
    """The index of ``source``: from the cache, or ``build(articles)`` and stored."""
    key = source.key(params, extra)
    index = cache.load(source.directory, key, kind)
    if index is not None:
        log.debug("kb index loaded from cache (%d files)", len(source.files))
        return index
    with paused_gc():
        index = build(source.articles())
    cache.store(source.directory, key, index)
    return index

