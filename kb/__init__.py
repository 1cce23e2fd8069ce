"""deskbot knowledge base: articles, the matcher, evaluation and feedback reports."""

from kb.articles import Article, default_kb_dir, load_articles
from kb.errors import KbError
from kb.feedback import FeedbackRow
from kb.matcher import Matcher, Suggestion

__all__ = [
    "Article",
    "FeedbackRow",
    "KbError",
    "Matcher",
    "Suggestion",
    "default_kb_dir",
    "load_articles",
]
