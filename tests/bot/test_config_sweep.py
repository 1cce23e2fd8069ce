"""The ``sweep:`` block of config.yaml: defaults, per-team and per-priority overrides, errors."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.config import BusinessSpan, ConfigError, SweepRuleSet
from tests.support.scenarios import ROOT, make_config


def with_sweep(block: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["sweep"] = block

    return change


def problems(block: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as err:
        make_config(with_sweep(block))
    return err.value.problems


def test_without_a_sweep_block_the_defaults_apply() -> None:
    config = make_config(lambda d: d.pop("sweep", None))
    rules = config.sweep.rules("it", "urgent")
    assert rules == SweepRuleSet()
    assert rules.unclaimed_repost == BusinessSpan(minutes=30) and rules.waiting_remind == BusinessSpan(days=2)


def test_later_overrides_win_and_off_switches_a_rule_off() -> None:
    config = make_config(with_sweep({
        "defaults": {"unclaimed_repost": "20m", "unclaimed_lead": "3h", "waiting_remind": "1d4h"},
        "teams": {"it": {"unclaimed_repost": "10m", "unrated_close": "off",
                         "priorities": {"urgent": {"unclaimed_repost": "1m"}}}},
        "priorities": {"urgent": {"unclaimed_repost": "5m", "unclaimed_lead": False}},
    }))
    sweep = config.sweep
    assert sweep.rules("hr", "normal").unclaimed_repost == BusinessSpan(minutes=20)
    assert sweep.rules("hr", "normal").waiting_remind == BusinessSpan(days=1, minutes=240)
    assert sweep.rules("it", "normal").unclaimed_repost == BusinessSpan(minutes=10)  # the team's
    assert sweep.rules("hr", "urgent").unclaimed_repost == BusinessSpan(minutes=5)  # the priority's
    assert sweep.rules("it", "urgent").unclaimed_repost == BusinessSpan(minutes=1)  # the team's for the priority
    assert sweep.rules("it", "normal").unrated_close is None
    assert sweep.rules("hr", "normal").unrated_close == BusinessSpan(days=3)
    assert sweep.rules("hr", "urgent").unclaimed_lead is None


@pytest.mark.parametrize(
    ("block", "path", "words"),
    [
        ({"defaults": {"unclaimed_repost": "soon"}}, "sweep.defaults.unclaimed_repost", "30m, 2h, 3d"),
        ({"defaults": {"response_warn": 1.2}}, "sweep.defaults.response_warn", "less than 1"),
        ({"defaults": {"unclaimed_repost": "3h"}}, "sweep.defaults", "must come after"),
        ({"teams": {"itt": {}}}, "sweep.teams.itt", "unknown team"),
        ({"priorities": {"critical": {}}}, "sweep.priorities.critical", "unknown priority"),
        ({"teams": {"it": {"priorities": {"asap": {}}}}}, "sweep.teams.it.priorities.asap", "unknown priority"),
        ({"defaults": {"unclaimed_sometimes": "1h"}}, "sweep.defaults.unclaimed_sometimes", "unknown key"),
        ({"priorities": {"high": {"unclaimed_repost": "4h"}}}, "sweep", "priority high in team(s) it, hr"),
    ],
)
def test_mistakes_are_reported_with_their_key_path(block: Any, path: str, words: str) -> None:
    found = problems(block)
    assert any(p == path and words in msg for p, msg in found), found


def test_the_sample_config_documents_every_rule() -> None:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    assert set(data["sweep"]["defaults"]) == set(SweepRuleSet.model_fields)
    config = make_config()
    assert config.sweep.defaults == SweepRuleSet()  # the file says what the code does by default
