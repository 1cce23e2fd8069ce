"""``deskbot`` with the senders' own pacing off: ``python -m bench._unpaced ARGS`` is
``python -m bot ARGS`` with Telegram's and Slack's rate policies replaced by
``bot.delivery.UNLIMITED``.

Why: deskbot paces its sends to the platforms' published limits (Telegram: 30 messages/s
overall, 20 per minute per group; Slack: about 1 per second per channel). A load bench
that files hundreds of tickets a second into one team chat would then measure those
limits — the queue in front of the group's 20/min — and not the desk. Throughput figures
are taken with this and with the fakes' limits off (said so in their output); pacing and
flooding are measured by ``bench/flood.py`` and ``bench/delivery.py`` against the limits.
Nothing else changes: the same command line, server, engine, outbox worker and senders.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def unpace() -> None:
    import bot.slack.sender as slack_sender
    import bot.telegram.sender as telegram_sender
    from bot.delivery import UNLIMITED

    telegram_sender.telegram_rate_policy = lambda: UNLIMITED  # type: ignore[assignment]
    slack_sender.slack_rate_policy = lambda: UNLIMITED  # type: ignore[assignment]


def run() -> int:
    """``bot.cli.main`` unpaced; with ``DESKBOT_BENCH_PROFILE=FILE``, cProfile between
    SIGUSR1 and SIGUSR2 (the stats written to FILE)."""
    import os

    unpace()
    from bot.cli import main

    target = os.environ.get("DESKBOT_BENCH_PROFILE")
    if not target:
        return main()
    import cProfile
    import signal

    # SIGUSR1 starts profiling the main thread, SIGUSR2 stops and writes FILE: a bench
    # profiles its measured window only, not the start-up.
    profile = cProfile.Profile()

    def start(*_: object) -> None:
        profile.enable()

    def stop(*_: object) -> None:
        profile.disable()
        profile.dump_stats(target)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    return main()


if __name__ == "__main__":
    sys.exit(run())
