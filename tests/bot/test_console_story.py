"""Issue 7, must-show 1: the scripted console story of a ticket that comes back.

anna files a ticket; boris claims it and asks a question; anna's plain answer (no command)
reaches boris as part of the ticket; boris resolves with a note; anna types "не помогло"
and one tap reopens it to boris; boris escalates with a reason; vera (L2) gets it; anna is
told; ``/ticket 1`` shows all of it in order. The script is runnable from the README.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

from tests.bot.conftest import DATA, SAMPLE_CONFIG, RunDeskbot

SCRIPT = DATA / "console_story.txt"


def in_order(lines: list[str], expected: list[str]) -> None:
    """Each expected line occurs (as a prefix of a line) after the previous one."""
    at = 0
    for want in expected:
        for i in range(at, len(lines)):
            if lines[i].startswith(want):
                at = i + 1
                break
        else:
            raise AssertionError(f"{want!r} not found after line {at}:\n" + "\n".join(lines[at:at + 40]))


def test_console_story(tmp_path: Path, run_deskbot: RunDeskbot) -> None:
    db = tmp_path / "story.db"

    result = run_deskbot("--config", str(SAMPLE_CONFIG), "console", "--db", str(db),
                         stdin=SCRIPT.read_text(encoding="utf-8"))

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    in_order(lines, [
        "[anna] Заявка #1 создана: не печатает принтер на третьем этаже",
        "[boris] #1 [Обычный] не печатает принтер на третьем этаже",
        "[boris] Заявка #1 ваша.",
        "[anna] #1 · Boris Petrov: Какая модель принтера и что пишет на экране?",
        # The plain answer, no command, reaches boris as part of #1.
        "anna> HP LaserJet 400, пишет «замятие бумаги»",
        "[boris] #1 · Anna Ivanova: HP LaserJet 400, пишет «замятие бумаги»",
        "[anna] Добавлено в заявку #1.",
        "[boris] Заявка #1 решена.",
        "[anna] Заявка #1 решена: не печатает принтер на третьем этаже",
        # "не помогло" offers the reopen; one tap reopens it to boris with the text.
        "[anna] Заявка #1 «не печатает принтер на третьем этаже» решена. Открыть её снова",
        "-- anna нажал(а) «Открыть #1 снова»",
        "[boris] Заявку #1 открыли снова (Anna Ivanova)",
        "[boris] #1 · Anna Ivanova: не помогло, опять замятие",
        "[boris] Заявка #1 эскалирована L1 → L2.",
        "[vera] #1 [Normal] не печатает принтер на третьем этаже",  # vera reads English
        "[anna] Ваша заявка #1 передана специалисту.",
    ])
    # The requester is told without internal names or tiers.
    told = next(line for line in lines if line.startswith("[anna] Ваша заявка #1 передана"))
    assert "L2" not in told and "Vera" not in told

    # /ticket 1 (as vera) shows the whole life in order, with times.
    start = lines.index("vera> /ticket 1")
    history = lines[lines.index("    History:", start) + 1:]
    body = [re.sub(r"^\s*\w{3} \d+ \d+:\d\d\W?[AP]M \w+ ", "", line) for line in history if line.startswith("    ")]
    in_order(body, [
        "Anna Ivanova: не печатает принтер на третьем этаже",
        "Boris Petrov: took the ticket",
        "Boris Petrov: Какая модель принтера и что пишет на экране?",
        "Anna Ivanova: HP LaserJet 400, пишет «замятие бумаги»",
        "Boris Petrov: resolved — Убрали замятую бумагу, принтер печатает",
        "Anna Ivanova: reopened",
        "Anna Ivanova: не помогло, опять замятие",
        "Boris Petrov: escalated L1 → L2 — Замятие повторяется — нужен ремонт узла подачи",
    ])

    # And the store agrees: the answer and the reopen text are in #1's history, it is at L2.
    with closing(sqlite3.connect(db)) as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM ticket_message WHERE ticket_id = 1 ORDER BY id")]
        status, tier, note = conn.execute("SELECT status, tier, resolution_note FROM ticket WHERE id = 1").fetchone()
    assert "HP LaserJet 400, пишет «замятие бумаги»" in texts and "не помогло, опять замятие" in texts
    assert (status, tier) == ("new", "L2")
    assert note == "Убрали замятую бумагу, принтер печатает"


def test_a_russian_console_session_has_no_english_word(tmp_path: Path, run_deskbot: RunDeskbot) -> None:
    """Must-show 5 at the console: everyone reads Russian, so nothing the console prints
    (its own words included) is English, apart from names, acronyms and what people typed."""
    import yaml

    from tests.handlers.test_locale import _COMMAND, _LATIN, english_words

    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    for person in data["people"].values():
        person["locale"] = "ru"
    config = tmp_path / "ru.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    script = SCRIPT.read_text(encoding="utf-8") + "\n/as boris\n/queue\n/mine\n/stats\n/take\n/help\n/as anna\n/my\n/help\n"

    result = run_deskbot("--config", str(config), "console", "--db", str(tmp_path / "ru.db"), stdin=script)

    assert result.returncode == 0, result.stderr
    printed = [line for line in result.stdout.splitlines() if not re.match(r"^\w+> ", line)]  # not the echoed input
    assert any(line.startswith("[vera] #1 [Обычный]") for line in printed)
    english = english_words()
    leaks = sorted({(w, line) for line in printed for w in _LATIN.findall(_COMMAND.sub(" ", line))
                    if w.lower() in english})
    assert not leaks, leaks
