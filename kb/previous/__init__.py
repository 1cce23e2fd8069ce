"""The matcher as it was before issue 11 (commit cc7af5d), frozen for comparison.

``deskbot kb eval`` prints it beside the current matcher and the BM25 baseline, so a
change to matching is always measured against what it replaced, in the same run. Do
not edit these files (nor import them from the app): they are a reference, not code
in use. It reads the same article files and ignores what it did not know then
(``aliases``, ``synonyms.yaml``).
"""

from kb.previous.matcher import Matcher as PreviousMatcher

__all__ = ["PreviousMatcher"]
