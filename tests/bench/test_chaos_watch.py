"""bench/chaos.py's runner watch (``Watch.sample``): replicas are asked one after the
other, so a look during which a kill happened (the runner answered, died, and its successor
answered after the takeover) must not count as two runners at once; a look with no kill in
it that finds two runners must."""

from __future__ import annotations

from typing import Any

from bench.chaos import Watch


class Replica:
    """Answers /healthz as a runner; ``during`` runs while it is being asked."""

    def __init__(self, pid: int, during: Any = None) -> None:
        self.pid = pid
        self.alive = True
        self.during = during

    async def health(self, session: Any) -> tuple[int, dict[str, Any]]:
        if self.during is not None:
            self.during()
        return 200, {"pid": self.pid, "runner": {"is_runner": True, "holder": f"p{self.pid}"}, "scheduler": {}}

    async def metrics(self, session: Any) -> None:
        return None


async def test_two_runners_in_one_look_with_no_kill_are_counted() -> None:
    watch = Watch()
    await watch.sample(None, [Replica(1), Replica(2)], kills=[])  # type: ignore[arg-type, list-item]
    assert (watch.samples, watch.two_runners, watch.split_holder, watch.spanning_kill) == (1, 1, 1, 0)


async def test_a_look_a_kill_fell_into_is_not_judged() -> None:
    kills: list[Any] = []
    first = Replica(1, during=lambda: kills.append((0.0, "a", True)))  # killed right after it answered
    watch = Watch()
    await watch.sample(None, [first, Replica(2)], kills=kills)  # type: ignore[arg-type, list-item]
    assert (watch.samples, watch.two_runners, watch.split_holder, watch.spanning_kill) == (0, 0, 0, 1)
    assert watch.was_runner == {1: True, 2: True}  # the counters still see both
