"""How the app builds its knowledge base from the desk block (kb_cache_dir, kb_semantic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.app import load_kb
from bot.config import Config
from kb.articles import default_kb_dir
from kb.matcher import Matcher


def _with(config: Config, **desk: Any) -> Config:
    return config.model_copy(update={"desk": config.desk.model_copy(update=desk)})


def test_kb_cache_dir_from_config(config: Config, tmp_path: Path, monkeypatch: Any) -> None:
    cache = tmp_path / "kb-cache"
    conf = _with(config, kb_cache_dir=str(cache))
    first = load_kb(conf)
    assert type(first) is Matcher
    assert len(list(cache.glob("*.idx"))) == 1  # written where the config says

    def no_build(self: Matcher, articles: Any) -> Any:
        raise AssertionError("the index was rebuilt although the KB did not change")

    monkeypatch.setattr(Matcher, "_make_index", no_build)
    second = load_kb(conf)  # a restart: loaded from the cache
    assert second.articles == first.articles
    assert second.search("vpn not working") == first.search("vpn not working")


def test_kb_cache_dir_default_is_the_xdg_cache(config: Config, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert config.desk.kb_cache_dir is None
    load_kb(config, default_kb_dir())
    assert len(list((tmp_path / "deskbot" / "kb").glob("*.idx"))) == 1
