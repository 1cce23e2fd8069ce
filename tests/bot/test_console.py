"""``deskbot console``: the scripted VPN session as a real process, and the console's own
commands (``/as``, numbers, ``/whoami``, ``/quit``, end of input)."""

from __future__ import annotations

import io
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.cli import main
from tests.bot.conftest import DATA, SAMPLE_CONFIG, RunDeskbot

SCRIPT = DATA / "console_vpn.txt"


def query(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, args).fetchall()


def test_scripted_vpn_session(tmp_path: Path, run_deskbot: RunDeskbot) -> None:
    db = tmp_path / "desk.db"

    result = run_deskbot("--config", str(SAMPLE_CONFIG), "console", "--db", str(db),
                         stdin=SCRIPT.read_text(encoding="utf-8"))

    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    # anna is offered KB suggestions, the VPN article first; the script presses button 3
    # ("Создать заявку" after the two VPN articles).
    assert "[anna] Возможно, ответ есть в этих статьях:" in lines
    after = lines[lines.index("[anna] Возможно, ответ есть в этих статьях:") + 1 :]
    # each article with a preview of its answer, then the buttons
    assert after[1].startswith("    • Не работает VPN или не подключается — "), after[:5]
    offer = next(line for line in after if line.strip().startswith("[1]"))
    assert offer.strip().startswith("[1] Не работает VPN"), offer
    assert offer.endswith("[3] Создать заявку"), (
        f"the sample KB no longer offers exactly 2 articles for 'не работает VPN' ({offer!r}): "
        f"update the button number in {SCRIPT.name}"
    )
    expected_in_order = [
        "-- anna нажал(а) «Создать заявку»",
        "[anna] Оформим заявку. Это про «VPN и сеть»?",
        "-- anna нажал(а) «Да, VPN и сеть»",
        "[anna] Заявка #1 создана: не работает VPN",
        "[boris] #1 [Обычный] не работает VPN",
        "    [1] Взять  [2] Назначить  [3] Эскалировать",
        "-- boris нажал(а) «Взять»",
        "[boris] Заявка #1 ваша.",
        "[anna] Boris Petrov взял(а) в работу заявку #1.",
        "-- boris нажал(а) «Ответить»",
        "[boris] Отправлено: Anna Ivanova (#1).",
        "[anna] #1 · Boris Petrov: Переустановите VPN-клиент и войдите заново",
        "-- boris нажал(а) «Решено»",
        "[boris] Заявка #1 решена.",
        "[anna] Заявка #1 решена: не работает VPN",
        "    [1] 1  [2] 2  [3] 3  [4] 4  [5] 5  [6] Не решено — открыть снова",
        "-- anna нажал(а) «5»",
        "[anna] Спасибо за оценку заявки #1!",
        "[boris] Заявка #1: оценка 5/5 от Anna Ivanova.",
    ]
    positions = []
    for line in expected_in_order:
        assert line in lines, f"missing line {line!r} in:\n{out}"
        positions.append(lines.index(line))
    assert positions == sorted(positions), "lines came out of order"
    assert not [line for line in lines if line.startswith("!")], out  # no console errors
    assert "    Статус: закрыта — Boris Petrov" in lines

    [(number, status, csat, closed_at)] = query(db, "SELECT id, status, csat, closed_at FROM ticket")
    assert (number, status, csat) == (1, "closed", 5) and closed_at is not None
    actions = [a for (a,) in query(db, "SELECT action FROM ticket_event WHERE ticket_id = 1 ORDER BY id")]
    assert actions == ["create", "claim", "reply", "resolve", "rate", "close"]
    history = query(db, "SELECT kind, text FROM ticket_message WHERE ticket_id = 1 ORDER BY id")
    assert history == [("requester", "не работает VPN"), ("agent", "Переустановите VPN-клиент и войдите заново")]
    assert query(db, "SELECT count(*) FROM outbox WHERE status != 'sent'") == [(0,)]
    shown = query(db, "SELECT slug FROM kb_feedback WHERE outcome = 'shown' ORDER BY id")
    assert shown[0] == ("vpn-connect-ru",)


def run_console(tmp_path: Path, script: str, capsys: pytest.CaptureFixture[str],
                monkeypatch: pytest.MonkeyPatch, *extra: str) -> tuple[int, str, str]:
    """``deskbot console`` in this process with ``script`` as its input."""
    monkeypatch.setattr("sys.stdin", io.StringIO(script))
    code = main(["--config", str(SAMPLE_CONFIG), "console", "--db", str(tmp_path / "desk.db"), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_unknown_as_name_is_refused_and_keeps_the_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_console(tmp_path, "/as boris\n/as nobody\n/whoami\n", capsys, monkeypatch)

    assert code == 0
    assert "-- теперь вы — boris (Boris Petrov)" in out
    assert "! нет такого человека 'nobody'; есть: anna, boris, vera, gleb, dina, egor" in out
    assert out.splitlines()[-1] == "-- boris"


def test_a_number_without_buttons_presses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_console(tmp_path, "1\n/as boris\n/help\n3\n", capsys, monkeypatch)

    assert code == 0
    assert "! нет кнопки 1 у anna" in out
    assert "! нет кнопки 3 у boris" in out  # /help's answer has no buttons
    # Only /help reached the engine.
    assert query(tmp_path / "desk.db", "SELECT count(*) FROM inbox_event") == [(1,)]


def test_a_number_beyond_the_buttons_presses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_console(tmp_path, "не работает VPN\n0\n9\n", capsys, monkeypatch)

    assert code == 0
    assert "! нет кнопки 0 у anna" in out and "! нет кнопки 9 у anna" in out
    assert query(tmp_path / "desk.db", "SELECT count(*) FROM inbox_event") == [(1,)]


def test_end_of_input_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run_console(tmp_path, "", capsys, monkeypatch)

    assert code == 0
    assert out == "" and err == ""
    assert (tmp_path / "desk.db").is_file()  # the schema was created on the fresh file


def test_quit_stops_before_the_rest_of_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_console(tmp_path, "/help\n/quit\nне работает VPN\n", capsys, monkeypatch)

    assert code == 0
    assert "/help" in out and "не работает VPN" not in out
    assert query(tmp_path / "desk.db", "SELECT count(*) FROM inbox_event") == [(1,)]


def test_start_as_a_person(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_console(tmp_path, "/queue\n", capsys, monkeypatch, "--as", "vera")

    assert code == 0
    assert out.splitlines() == ["vera> /queue", "[vera] The queue is empty."]


def test_start_as_an_unknown_person_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_console(tmp_path, "", capsys, monkeypatch, "--as", "nobody")

    assert code == 2
    assert "unknown person 'nobody'" in err
    assert not (tmp_path / "desk.db").exists()


def test_as_is_case_insensitive_and_only_exact_console_commands_are_local(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_console(tmp_path, "/as Boris\n/whoami\n/AS vera\n/whoami\n/assign 1 vera\n", capsys, monkeypatch)

    assert code == 0
    assert "-- boris\n" in out and "-- vera\n" in out
    assert "unknown person" not in out  # /assign is not "/as sign 1 vera"
    assert "vera> /assign 1 vera\n[vera] " in out  # the engine answered it


def test_help_shows_the_engine_help_and_the_console_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_console(tmp_path, "/as vera\n/help\n", capsys, monkeypatch)

    assert code == 0
    assert "/new — start a new request" in out  # the engine's help (vera reads English)
    console_help = [line for line in out.splitlines() if line.startswith("Console:")]
    assert console_help and all(cmd in console_help[0] for cmd in ("/as", "/whoami", "/quit", "/#"))


def test_console_words_follow_the_acting_persons_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_console(tmp_path, "/as vera\n5\n/as nobody\n/as anna\n5\n", capsys, monkeypatch)

    assert code == 0
    assert "-- now acting as vera (Vera Sokolova)" in out
    assert "! no button 5 for vera" in out
    assert "! unknown person 'nobody'; known: anna" in out
    assert "-- теперь вы — anna (Anna Ivanova)" in out and "! нет кнопки 5 у anna" in out


def test_console_texts_exist_in_english_and_russian() -> None:
    from handlers.texts import TEXTS

    keys = [k for k in TEXTS if k.startswith("console_")]
    assert {"console_updated", "console_no_button", "console_pressed", "console_now_acting",
            "console_unknown_person", "console_banner", "console_help"} <= set(keys)
    assert all(TEXTS[k].get("en") and TEXTS[k].get("ru") for k in keys)
