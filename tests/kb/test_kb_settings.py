"""A KB directory's own threshold (``kb.yaml``, kb/settings.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kb.errors import KbError
from kb.matcher import DEFAULT_THRESHOLD, Matcher
from kb.settings import KbSettings, load_settings, parse_settings

ARTICLE = "---\ntitle: VPN does not connect\nlang: en\nquestions:\n  - vpn won't connect\n---\nRestart it.\n"


def kb_dir(tmp_path: Path, settings: str | None) -> Path:
    d = tmp_path / "kb"
    d.mkdir(exist_ok=True)
    (d / "vpn.md").write_text(ARTICLE, encoding="utf-8")
    if settings is not None:
        (d / "kb.yaml").write_text(settings, encoding="utf-8")
    return d


def test_parse() -> None:
    assert parse_settings("threshold: 0.35\n") == KbSettings(threshold=0.35)
    assert parse_settings("threshold: 1\n") == KbSettings(threshold=1.0)
    assert parse_settings("") == KbSettings()
    assert parse_settings("# nothing yet\n") == KbSettings()


@pytest.mark.parametrize(("text", "message"), [
    ("threshold: 1.5\n", r"kb.yaml: threshold must be a number within 0..1, got 1.5"),
    ("threshold: high\n", r"threshold must be a number within 0..1, got 'high'"),
    ("threshold: true\n", r"threshold must be a number within 0..1, got True"),
    ("treshold: 0.3\n", r"unknown setting\(s\) treshold; known: threshold"),
    ("- 0.3\n", r"must be a mapping of settings"),
    ("threshold: [\n", r"not valid YAML \(line 2\)"),
])
def test_bad_settings_are_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(KbError, match=message):
        parse_settings(text, "kb.yaml")


def test_no_file_means_the_default(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == KbSettings()
    assert Matcher.from_dir(kb_dir(tmp_path, None), cache_dir=tmp_path / "c").threshold == DEFAULT_THRESHOLD


def test_the_kb_threshold_applies_unless_the_caller_gives_one(tmp_path: Path) -> None:
    d = kb_dir(tmp_path, "threshold: 0.42\n")
    assert Matcher.from_dir(d, cache_dir=tmp_path / "c").threshold == 0.42
    # desk.kb_threshold (bot.app.load_kb passes it) wins over the KB's own
    assert Matcher.from_dir(d, cache_dir=tmp_path / "c", threshold=0.1).threshold == 0.1


def test_a_bad_kb_yaml_stops_the_load(tmp_path: Path) -> None:
    with pytest.raises(KbError, match="kb.yaml: threshold must be"):
        Matcher.from_dir(kb_dir(tmp_path, "threshold: -1\n"), cache_dir=tmp_path / "c")


def _touch_later(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))  # a new signature even on a coarse clock


def test_reload_picks_up_a_changed_threshold_and_keeps_it_on_a_broken_file(tmp_path: Path) -> None:
    d = kb_dir(tmp_path, "threshold: 0.3\n")
    m = Matcher.from_dir(d, cache_dir=tmp_path / "c")
    _touch_later(d / "kb.yaml", "threshold: 0.5\n")
    assert m.reload_if_changed() and m.threshold == 0.5
    _touch_later(d / "kb.yaml", "threshold: 5\n")
    assert not m.reload_if_changed() and m.threshold == 0.5  # the error is logged, nothing changes
    _touch_later(d / "kb.yaml", "threshold: 0.25\n")
    assert m.reload() and m.threshold == 0.25


def test_a_given_threshold_survives_reloads(tmp_path: Path) -> None:
    d = kb_dir(tmp_path, "threshold: 0.3\n")
    m = Matcher.from_dir(d, cache_dir=tmp_path / "c", threshold=0.1)
    _touch_later(d / "kb.yaml", "threshold: 0.6\n")
    assert m.reload_if_changed() and m.threshold == 0.1


def test_the_threshold_says_where_it_came_from_and_a_reload_keeps_that_true(tmp_path: Path) -> None:
    """kb eval prints it: a kb.yaml without a threshold is the default, not the file's."""
    d = kb_dir(tmp_path, "# no threshold yet\n")
    m = Matcher.from_dir(d, cache_dir=tmp_path / "c")
    assert (m.threshold, m.threshold_source) == (DEFAULT_THRESHOLD, "default")
    _touch_later(d / "kb.yaml", "threshold: 0.45\n")
    assert m.reload_if_changed() and (m.threshold, m.threshold_source) == (0.45, "kb.yaml")
    _touch_later(d / "kb.yaml", "\n")
    assert m.reload() and (m.threshold, m.threshold_source) == (DEFAULT_THRESHOLD, "default")
    given = Matcher.from_dir(d, cache_dir=tmp_path / "c", threshold=0.1)
    assert given.threshold_source == "given"
    _touch_later(d / "kb.yaml", "threshold: 0.6\n")
    assert given.reload_if_changed() and (given.threshold, given.threshold_source) == (0.1, "given")


def test_the_sample_kb_has_its_threshold() -> None:
    from kb import default_kb_dir

    own = load_settings(default_kb_dir()).threshold
    assert own is not None and DEFAULT_THRESHOLD < own < 1
    assert Matcher.from_dir(default_kb_dir()).threshold == own
