"""Fixtures for the ``bot/`` tests: a clean environment, restored logging, and a way to
run ``python -m bot`` as a real process."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = ROOT / "config.yaml"
DATA = Path(__file__).resolve().parent / "data"
# Variables that change what a config loads to; tests set them explicitly when they matter.
DESK_ENV_PREFIXES = ("DESKBOT_", "TELEGRAM_", "SLACK_")

RunDeskbot = Callable[..., subprocess.CompletedProcess[str]]


def _is_desk_var(name: str) -> bool:
    return name.startswith(DESK_ENV_PREFIXES)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DESKBOT_* / TELEGRAM_* / SLACK_* variable from the developer's shell leaks in."""
    for name in list(os.environ):
        if _is_desk_var(name):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``bot.cli.main`` installs its JSON log handler on the root logger; undo that."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def run_deskbot() -> RunDeskbot:
    """Run ``python -m bot ARGS`` from the checkout, as a user would run ``deskbot``."""

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not _is_desk_var(k)}
        base["PYTHONPATH"] = str(ROOT)
        base["PYTHONIOENCODING"] = "utf-8"
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            input=stdin, capture_output=True, text=True, encoding="utf-8",
            cwd=cwd, env={**base, **(env or {})}, timeout=120,
        )

    return run
