"""Feedback nudging: how much one answer moves a score, and for which queries."""

from __future__ import annotations

import math

import pytest

from kb.feedback import FeedbackMemory

WEIGHTS = {"vpn": 3.0, "работа": 1.5}


def test_no_feedback_no_nudge() -> None:
    assert FeedbackMemory().nudges(WEIGHTS, 4.0) == {}


def test_one_solved_on_the_same_query() -> None:
    memory = FeedbackMemory()
    memory.add(WEIGHTS, "vpn-ru", solved=True)
    nudge = memory.nudges(WEIGHTS, 4.0)["vpn-ru"]
    assert nudge == pytest.approx(0.2 * math.tanh(0.5))  # ≈ 0.092


def test_solved_and_not_solved_cancel_out() -> None:
    memory = FeedbackMemory()
    memory.add(WEIGHTS, "vpn-ru", solved=True)
    memory.add(WEIGHTS, "vpn-ru", solved=False)
    assert memory.nudges(WEIGHTS, 4.0) == {}


def test_nudge_is_bounded() -> None:
    memory = FeedbackMemory()
    for _ in range(100):
        memory.add(WEIGHTS, "vpn-ru", solved=True)
    assert 0.19 < memory.nudges(WEIGHTS, 4.0)["vpn-ru"] <= 0.2


def test_only_similar_queries_are_nudged() -> None:
    memory = FeedbackMemory()
    memory.add({"vpn": 3.0, "работа": 1.5}, "vpn-ru", solved=True)
    # shares "vpn" but is mostly about something else: Dice similarity below 0.5
    assert memory.nudges({"vpn": 3.0, "принтер": 3.0, "сканер": 3.0}, 4.0) == {}
    # same words plus one more: still similar
    assert "vpn-ru" in memory.nudges({"vpn": 3.0, "работа": 1.5, "дом": 2.0}, 4.0)


def test_empty_query_is_ignored() -> None:
    memory = FeedbackMemory()
    memory.add({}, "vpn-ru", solved=True)
    assert len(memory) == 0
