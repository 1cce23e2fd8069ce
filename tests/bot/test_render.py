"""Telegram HTML and Slack mrkdwn renderers of the neutral rich text."""

from __future__ import annotations

import re

import pytest

from bot.slack.render import to_mrkdwn
from bot.telegram.render import ALLOWED_TAGS, to_html
from handlers.richtext import article, parse_markdown
from kb.articles import Article, default_kb_dir, load_articles

ARTICLES = load_articles(default_kb_dir())
SAMPLE = "Say **hi** & *you* <script> with `a<b` at [site](https://x.test/?a=1&b=\"2\").\n\n- one\n\n```\nx < y\n```"


def test_telegram_html_escapes_text_and_uses_only_its_tags() -> None:
    html = to_html(parse_markdown(SAMPLE))
    assert html == (
        'Say <b>hi</b> &amp; <i>you</i> &lt;script&gt; with <code>a&lt;b</code> at '
        '<a href="https://x.test/?a=1&amp;b=%222%22">site</a>.\n\n• one\n\n<pre>x &lt; y</pre>'
    )


def test_telegram_drops_links_it_cannot_open() -> None:
    assert to_html(parse_markdown("[x](ftp://x.test/f)")) == "x (ftp://x.test/f)"


def test_slack_mrkdwn_escapes_control_characters() -> None:
    assert to_mrkdwn(parse_markdown(SAMPLE)) == (
        "Say *hi* &amp; _you_ &lt;script&gt; with `a&lt;b` at <https://x.test/?a=1&amp;b=%222%22|site>.\n\n"
        "• one\n\n```x &lt; y```"
    )


@pytest.mark.parametrize("item", ARTICLES, ids=[a.slug for a in ARTICLES])
def test_bundled_articles_render_without_raw_markdown(item: Article) -> None:
    rich = article(item.title, item.body)
    html = to_html(rich)
    assert "**" not in html and "**" not in to_mrkdwn(rich)
    tags = set(re.findall(r"</?([a-z]+)", html))
    assert tags <= set(ALLOWED_TAGS), tags
