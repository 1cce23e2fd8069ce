"""Errors raised by the knowledge-base package."""

from __future__ import annotations


class KbError(Exception):
    """A knowledge-base problem the operator can fix: a bad article file, a bad CSV, ...

    The message names the file and says what is wrong with it.
    """
