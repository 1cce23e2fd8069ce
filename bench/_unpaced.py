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


if __name__ == "__main__":
    unpace()
    from bot.cli import main

    sys.exit(main())
