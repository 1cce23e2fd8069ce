"""bench/chaos.py's agents: when a claim took effect (``claimed_copy``). After a kill a
queue card can be at the fake twice, and the copy an agent pressed Claim on may be the
duplicate the desk never recorded and never edits; the agent must go on as soon as any
copy shows the claim, and in that copy's thread."""

from __future__ import annotations

from bench.chaos import claimed_copy

NEW = ["Claim", "Assign", "Escalate"]
CLAIMED = ["Reply", "Resolve", "Escalate", "Release", "Reassign"]


def test_the_claim_lands_on_the_recorded_copy_not_on_the_duplicate_pressed() -> None:
    # #3's card sent twice: message 5 (the duplicate, pressed) keeps Claim; 7 was edited.
    cards = [(3, 5, NEW), (4, 6, NEW), (3, 7, CLAIMED)]
    assert claimed_copy(3, cards) == 7


def test_no_copy_shows_the_claim_yet() -> None:
    assert claimed_copy(3, [(3, 5, NEW), (3, 7, NEW)]) is None
    assert claimed_copy(3, [(3, 5, NEW), (4, 6, CLAIMED)]) is None  # another ticket's claim
    assert claimed_copy(3, []) is None


def test_a_message_about_the_ticket_without_buttons_is_not_its_card() -> None:
    # The desk's "#3 is yours." in the group (no buttons), a re-post edited to no buttons.
    assert claimed_copy(3, [(3, 5, NEW), (3, 9, [])]) is None
    assert claimed_copy(3, [(3, 5, CLAIMED)]) == 5  # no duplicate: the card pressed itself
