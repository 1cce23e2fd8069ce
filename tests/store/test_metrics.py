"""``store.metrics`` helpers. The queries themselves are checked against a hand-worked
seeded week on both databases in tests/scheduler/test_digest.py."""

from __future__ import annotations

from store import metrics


def test_percentile_is_nearest_rank_for_even_and_odd_counts() -> None:
    # Nearest rank: the ceil(q·n)-th smallest value.
    assert metrics.percentile([30.0, 10.0], 50) == 10.0
    assert metrics.percentile([30.0, 10.0], 90) == 30.0
    assert metrics.percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 50) == 3.0
    assert metrics.percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 90) == 6.0
    assert metrics.percentile([7.0], 90) == 7.0
    assert metrics.percentile([], 50) is None
