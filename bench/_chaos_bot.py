"""``deskbot run`` for bench/chaos.py: the real command line (``python -m bot``), with the
senders' own pacing raised.

The fakes run with their rate limits off for the chaos run, but the senders still pace
themselves to Telegram's and Slack's published limits (20 messages a minute to a group,
one a second to a Slack channel). With one IT queue taking every card, re-post and reply,
a run of 20 kills would spend most of its time waiting for those tokens, so here the
limits are raised (1,000/s overall, 100/s per chat). Nothing else differs from
``deskbot run``: bench/flood.py is where the real limits are measured.

    python -m bench._chaos_bot --config FILE run --listen 127.0.0.1:PORT --db URL
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import bot.slack.sender as slack_sender  # noqa: E402
import bot.telegram.sender as telegram_sender  # noqa: E402
from bot.cli import main  # noqa: E402
from bot.delivery import RateLimit, RatePolicy  # noqa: E402

FAST = RatePolicy(overall=RateLimit(1000, 1.0), per_chat=lambda _chat: RateLimit(100, 1.0))


def fast_policy() -> RatePolicy:
    return FAST


telegram_sender.telegram_rate_policy = fast_policy  # read when a sender is built
slack_sender.slack_rate_policy = fast_policy

if __name__ == "__main__":
    sys.exit(main())
