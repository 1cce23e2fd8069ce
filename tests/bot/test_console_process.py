"""``deskbot console`` as a real process: commands reach the engine, ``#`` is a message,
Ctrl-C (SIGINT) leaves cleanly, and a bad ``--db`` is one line and exit 2."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.bot.conftest import ROOT, SAMPLE_CONFIG, _is_desk_var

OPEN_TICKET = "не работает VPN\n3\n1\n"  # anna: KB offer (VPN ru, VPN en) -> [3] "Создать заявку" -> category "Да"


def env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not _is_desk_var(k)}
    base["PYTHONPATH"] = str(ROOT)
    base["PYTHONIOENCODING"] = "utf-8"
    return base


def console(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(SAMPLE_CONFIG), *args],
        input=stdin, capture_output=True, text=True, encoding="utf-8", env=env(), cwd=ROOT, timeout=120,
    )


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def test_assign_reaches_the_engine(tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    result = console("console", "--db", str(db), stdin=OPEN_TICKET + "/as gleb\n/assign 1 vera\n")

    assert result.returncode == 0, result.stderr
    assert "[gleb] Заявка #1 назначена: Vera Sokolova." in result.stdout.splitlines()
    assert "unknown person" not in result.stdout and "нет такого человека" not in result.stdout
    [(assignee,)] = query(db, "SELECT p.key FROM ticket t JOIN person p ON p.id = t.assignee_id")
    assert assignee == "vera"


def test_hash_text_is_a_message_and_a_number_while_composing_is_text(tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    script = OPEN_TICKET + "/as Boris\n1\n1\n# 1 перезагрузите ноутбук\n/# a comment, not sent\n1\n77\n"
    result = console("console", "--db", str(db), stdin=script)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "[anna] #1 · Boris Petrov: # 1 перезагрузите ноутбук" in lines
    assert "[anna] #1 · Boris Petrov: 77" in lines  # no button 77, but boris was writing a reply
    history = query(db, "SELECT kind, text FROM ticket_message WHERE ticket_id = 1 ORDER BY id")
    assert history == [("requester", "не работает VPN"), ("agent", "# 1 перезагрузите ноутбук"), ("agent", "77")]
    assert "a comment" not in "".join(text for _, text in history)  # type: ignore[operator]


def test_sigint_at_the_prompt_exits_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(SAMPLE_CONFIG), "console", "--db", str(tmp_path / "d.db")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", env=env(), cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("/whoami\n")
        proc.stdin.flush()
        seen = []
        while (line := proc.stdout.readline()) != "-- anna\n":  # the console is waiting for input
            assert line, f"console ended early: {seen}"
            seen.append(line)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


BAD_DBS = [
    ("postgresql+asyncpg://postgres:s3cret@127.0.0.1:5432/deskbot_no_such_db",
     "postgresql+asyncpg://postgres:***@127.0.0.1:5432/deskbot_no_such_db"),
    ("mysql://root:s3cret@x/y", "mysql://root:***@x/y"),
    ("/proc/deskbot-no-such-dir/desk.db", "sqlite+aiosqlite:////proc/deskbot-no-such-dir/desk.db"),
]


@pytest.mark.parametrize("command", [["console"], ["db", "upgrade"], ["kb", "report"]])
@pytest.mark.parametrize(("url", "shown"), BAD_DBS)
def test_a_bad_db_is_one_line_and_exit_2(command: list[str], url: str, shown: str) -> None:
    if url.startswith("postgresql"):
        pytest.importorskip("asyncpg")
    result = console(*command, "--db", url, stdin="hello\n")

    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and shown in lines[0], result.stderr
    assert "s3cret" not in result.stderr + result.stdout and "Traceback" not in result.stderr
