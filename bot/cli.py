"""``deskbot`` command line: console, run, check-config, db upgrade, digest, kb search/eval/report/reload/drafts."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from bot.config import ConfigError, Role, load_config, redact_url
from bot.logs import LOG_FORMATS, JsonFormatter, add_secrets, secrets_of
from kb.errors import KbError

__all__ = ["JsonFormatter", "main", "make_parser"]

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
DB_ENV_HINT = "DESKBOT_DATABASE_URL"


def setup_logging(level: str, fmt: str = "text") -> None:
    from bot.logs import setup_logging as install

    install(level, fmt)


def _sqlite_url(path: str) -> str:
    return f"sqlite+aiosqlite:///{Path(path).expanduser().resolve()}"


DB_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


class DatabaseProblem(Exception):
    """The database cannot be used; the message is one line with the redacted URL."""


def _database_url(args: argparse.Namespace, config_url: str) -> str | None:
    """``--db`` (a file or a URL) or the configured URL; None (after printing why) if unsupported.

    ``--db`` is checked like ``desk.database_url`` in the config.
    """
    db = getattr(args, "db", None)
    if not db:
        return config_url
    url = db if "://" in db else _sqlite_url(db)
    if not url.startswith(DB_SCHEMES):
        print(
            f"--db {redact_url(url)}: unsupported database URL; "
            f"it must start with {' or '.join(DB_SCHEMES)} (or be a SQLite file path)",
            file=sys.stderr,
        )
        return None
    return url


def _is_db_error(exc: BaseException) -> bool:
    import sqlalchemy.exc

    try:
        import asyncpg
        pg_errors: tuple[type[BaseException], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError)
    except ImportError:  # pragma: no cover
        pg_errors = ()
    import socket

    network = (ConnectionError, socket.gaierror, TimeoutError)  # the server cannot be reached
    return isinstance(exc, (sqlalchemy.exc.SQLAlchemyError, *network, *pg_errors))


def _db_problem(url: str, exc: BaseException) -> DatabaseProblem:
    """One line naming the (redacted) URL and the driver's reason."""
    from bot.config import redact_secrets

    cause = getattr(exc, "orig", None) or exc
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return DatabaseProblem(f"database {redact_url(url)}: cannot be used: {redact_secrets(reason)}")


def _check_sqlite(url: str) -> None:
    """Open a SQLite file for writing up front (synchronously): aiosqlite's failed connect
    leaves a worker thread that prints a traceback after the event loop has closed."""
    import sqlite3
    from contextlib import closing

    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path.startswith(":memory:") or "mode=memory" in path:
        return
    try:
        with closing(sqlite3.connect(path.split("?", 1)[0], timeout=5)) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise _db_problem(url, exc) from None


def _run_db(url: str, coro: Any) -> Any:
    """``asyncio.run(coro)``; a database failure becomes ``DatabaseProblem``."""
    if url.startswith("sqlite"):
        try:
            _check_sqlite(url)
        except DatabaseProblem:
            coro.close()
            raise
    try:
        return asyncio.run(coro)
    except Exception as exc:
        if _is_db_error(exc):
            raise _db_problem(url, exc) from None
        raise


def _load(args: argparse.Namespace) -> Any:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    add_secrets(secrets_of(config))  # from here on no log line can show them
    return config


# --- commands ------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file or args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    platforms = [p for p, on in (("telegram", config.telegram.enabled), ("slack", config.slack.enabled)) if on]
    from handlers.texts import translator

    t = translator(config.desk.default_locale)
    print(t(
        "config_ok", teams=t.plural("n_teams", len(config.teams)),
        categories=t.plural("n_categories", len(config.categories)),
        people=t.plural("n_people", len(config.people)), database=redact_url(config.desk.database_url),
        platforms=", ".join(platforms) or t("platforms_none"),
    ))
    from bot.logs import SecretFilter

    hide = SecretFilter(secrets_of(config)).redact  # a webhook URL may carry a secret in its path
    if config.telegram.enabled:
        tg = config.telegram
        if tg.mode == "webhook":
            print(hide(t("config_telegram_webhook", url=tg.webhook.url or "", api_base=tg.api_base)))
        else:
            print(hide(t("config_telegram_polling", api_base=tg.api_base)))
    print(t("config_server", listen=config.server.listen))
    return EXIT_OK


def cmd_console(args: argparse.Namespace) -> int:
    from bot.app import build
    from bot.console import ConsoleSender, run_console

    config = _load(args)
    if config is None:
        return EXIT_FAIL
    if args.as_person and args.as_person not in config.people:
        print(f"unknown person {args.as_person!r}; known: {', '.join(config.people)}", file=sys.stderr)
        return EXIT_USAGE
    url = _database_url(args, config.desk.database_url)
    if url is None:
        return EXIT_USAGE
    sender = ConsoleSender(sys.stdout)

    async def main() -> int:
        app = build(config, senders={"console": sender}, database_url=url)
        try:
            return await run_console(app, sys.stdin, sys.stdout, start_as=args.as_person)
        finally:
            await app.close()

    try:
        return int(_run_db(url, main()))
    except DatabaseProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except KbError as exc:  # the KB does not load (a bad article, the semantic extra missing)
        print(f"deskbot console: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:  # Ctrl-C / SIGINT while not at the prompt: leave quietly
        sys.stdout.flush()
        return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from bot.config import split_listen
    from bot.run import StartError, serve

    config = _load(args)
    if config is None:
        return EXIT_FAIL
    if not config.telegram.enabled and not config.slack.enabled:
        print(
            "No platform is configured: set TELEGRAM_BOT_TOKEN and/or SLACK_BOT_TOKEN "
            "(see config.yaml).\nTo try deskbot without tokens, run: deskbot console",
            file=sys.stderr,
        )
        return EXIT_FAIL
    if args.listen is not None:
        try:
            split_listen(args.listen)
        except ValueError as exc:
            print(f"--listen: {exc}", file=sys.stderr)
            return EXIT_USAGE
    url = _database_url(args, config.desk.database_url)
    if url is None:
        return EXIT_USAGE
    try:
        return int(_run_db(url, serve(config, listen=args.listen, database_url=url, role=args.role)))
    except DatabaseProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    except StartError as exc:
        print(f"deskbot run: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KbError as exc:  # the KB does not load (a bad article, the semantic extra missing)
        print(f"deskbot run: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were in place
        return EXIT_FAIL


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from store import migrate
    from store.db import Database

    config = _load(args)
    if config is None:
        return EXIT_FAIL
    url = _database_url(args, config.desk.database_url)
    if url is None:
        return EXIT_USAGE

    async def main() -> tuple[str | None, str | None]:
        db = Database(url)
        try:
            return await migrate.upgrade(db)
        finally:
            await db.dispose()

    try:
        before, after = _run_db(url, main())
    except DatabaseProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    print(f"database {redact_url(url)}: {before or 'empty'} -> {after}")
    return EXIT_OK


def cmd_db_revision(args: argparse.Namespace) -> int:
    """Developer command: write a migration for the difference between models and head."""
    import tempfile

    from store import migrate
    from store.db import Database

    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(_sqlite_url(str(Path(tmp) / "rev.db")))
            try:
                await migrate.upgrade(db)
                await migrate.autogenerate(db, args.message)
            finally:
                await db.dispose()

    asyncio.run(main())
    return EXIT_OK


def cmd_kb_report(args: argparse.Namespace) -> int:
    from kb.cli import LearnedRow, report_command
    from kb.feedback import FeedbackRow
    from store import feedback, kb_learning, migrate
    from store.db import Database

    config = _load(args)
    if config is None:
        return EXIT_FAIL
    url = _database_url(args, config.desk.database_url)
    if url is None:
        return EXIT_USAGE

    async def main() -> tuple[list[FeedbackRow], list[LearnedRow]]:
        db = Database(url)
        try:
            await migrate.upgrade(db)
            async with db.transaction() as s:
                rows = [FeedbackRow(slug=r.slug, query=r.query, outcome=r.outcome) for r in await feedback.all_rows(s)]
                learned = [LearnedRow(slug=r.slug, question=r.question, ticket_id=r.ticket_id)
                           for r in await kb_learning.all_learned(s)]
                return rows, learned
        finally:
            await db.dispose()

    try:
        rows, learned = _run_db(url, main())
    except DatabaseProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    return report_command(rows, learned=learned)


def cmd_kb_reload(args: argparse.Namespace) -> int:
    """Ask every running desk on the database to rebuild its KB (files + learned questions)."""
    from datetime import UTC, datetime

    from store import kb_learning, migrate
    from store.db import Database

    config = _load(args)
    if config is None:
        return EXIT_FAIL
    url = _database_url(args, config.desk.database_url)
    if url is None:
        return EXIT_USAGE

    async def main() -> tuple[int, int]:
        db = Database(url)
        try:
            await migrate.upgrade(db)
            async with db.transaction() as s:
                request = await kb_learning.request_reload(s, datetime.now(UTC))
                learned = sum(len(q) for q in (await kb_learning.learned_questions(s)).values())
            return request, learned
        finally:
            await db.dispose()

    try:
        request, learned = _run_db(url, main())
    except DatabaseProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    print(f"kb reload #{request} requested ({learned} learned questions): running desks on "
          f"{redact_url(url)} rebuild their KB within {config.desk.kb_reload_seconds:g} s")
    return EXIT_OK


def cmd_kb_drafts(args: argparse.Namespace) -> int:
    """List the draft articles saved from resolved tickets (file, title, created)."""
    from kb.articles import default_kb_dir
    from kb.drafts import list_drafts, resolve_drafts_dir

    config = _load(args)
    if config is None:
        return EXIT_FAIL
    desk = config.desk
    directory = Path(args.dir) if args.dir else resolve_drafts_dir(
        desk.kb_drafts_dir, Path(desk.kb_dir) if desk.kb_dir else default_kb_dir())
    drafts = list_drafts(directory)
    if not drafts:
        print(f"no drafts in {directory}")
        return EXIT_OK
    print(f"drafts in {directory}:")
    width = max(len(d.path.name) for d in drafts)
    for d in drafts:
        print(f"{d.path.name:<{width}}  {d.created:%Y-%m-%d %H:%M} UTC  {d.title}")
    return EXIT_OK


def cmd_digest(args: argparse.Namespace) -> int:
    """A team's digest in the terminal (yesterday in the team's zone, or ``--date``), the
    chart written to ``--png`` when asked. Nothing is sent and nothing recorded."""
    from datetime import UTC, date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from handlers.cards import team_timezone
    from scheduler import digest
    from store import migrate
    from store.db import Database

    config = _load(args)
    if config is None:
        return EXIT_FAIL
    if args.team not in config.teams:
        print(f"--team: unknown team {args.team!r}; known: {', '.join(config.teams)}", file=sys.stderr)
        return EXIT_USAGE
    zone = ZoneInfo(team_timezone(config, args.team))
    now = datetime.now(UTC)
    try:
        day = date.fromisoformat(args.date) if args.date else now.astimezone(zone).date() - timedelta(days=1)
    except ValueError:
        print(f"--date: expected YYYY-MM-DD, got {args.date!r}", file=sys.stderr)
        return EXIT_USAGE
    url = _database_url(args, config.desk.database_url)
    if url is None:
        return EXIT_USAGE
    locale = args.lang or digest.lead_chat_locale(config, args.team)

    async def main() -> Any:
        db = Database(url)
        try:
            await migrate.upgrade(db)
            async with db.transaction() as s:
                numbers = await digest.compute(s, config, args.team, digest.day_period(day, zone), now)
            return await digest.digest_reply(config, numbers, locale) if args.png else numbers
        finally:
            await db.dispose()

    try:
        result = _run_db(url, main())
    except DatabaseProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if args.png:
        print(result.text)
        Path(args.png).write_bytes(result.attachments[0].data or b"")
        print(f"chart: {args.png} ({result.attachments[0].size:,} bytes)")
    else:
        from handlers.texts import translator

        print(digest.render(translator(locale), result, config))
    return EXIT_OK


# --- parser --------------------------------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    from kb.cli import add_arguments as add_kb_arguments

    parser = argparse.ArgumentParser(prog="deskbot", description="Chat-first help desk.")
    parser.add_argument("--config", default=None, help="config file (default: $DESKBOT_CONFIG or ./config.yaml)")
    parser.add_argument("--log-level", default=None,
                        help="DEBUG, INFO, WARNING, ERROR (default: INFO for run, WARNING otherwise)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                        help="log lines on stderr as text (default) or one JSON object per line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("console", help="play employee, agent and lead in the terminal")
    p.add_argument("--db", default=None, help=f"SQLite file or database URL (default: config / ${DB_ENV_HINT})")
    p.add_argument("--as", dest="as_person", default=None, help="start as this person (config key)")
    p.set_defaults(func=cmd_console)

    p = sub.add_parser("run", help="serve Telegram and/or Slack, /healthz and /metrics, until SIGTERM")
    p.add_argument("--listen", default=None, help="host:port of the HTTP server (default: config server.listen)")
    p.add_argument("--db", default=None, help=f"SQLite file or database URL (default: config / ${DB_ENV_HINT})")
    p.add_argument("--role", choices=get_args(Role), default=None,
                   help="all: webhooks and maybe the runner; web: webhooks only; runner: delivery and "
                        "the scheduler, no webhooks (default: config runner.role)")
    p.add_argument("--log-format", choices=LOG_FORMATS, default=argparse.SUPPRESS, help="as the global option")
    p.add_argument("--log-level", default=argparse.SUPPRESS, help="as the global option (default for run: INFO)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check-config", help="validate a config file and report every problem")
    p.add_argument("file", nargs="?", default=None)
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("db", help="database maintenance")
    db_sub = p.add_subparsers(dest="db_command", metavar="{upgrade,revision}")
    db_sub.required = True
    up = db_sub.add_parser("upgrade", help="apply schema migrations")
    up.add_argument("--db", default=None, help="SQLite file or database URL")
    up.set_defaults(func=cmd_db_upgrade)
    rev = db_sub.add_parser("revision", help="(developers) generate a migration from model changes")
    rev.add_argument("message")
    rev.set_defaults(func=cmd_db_revision)

    p = sub.add_parser("digest", help="print a team's daily digest (and write its chart)")
    p.add_argument("--team", required=True, help="team key from the config, e.g. it")
    p.add_argument("--date", default=None, help="the day to report, YYYY-MM-DD (default: yesterday in the team's zone)")
    p.add_argument("--png", default=None, metavar="FILE", help="write the 14-day chart to this PNG file")
    p.add_argument("--lang", choices=("en", "ru"), default=None, help="language (default: the lead chat's)")
    p.add_argument("--db", default=None, help="SQLite file or database URL")
    p.set_defaults(func=cmd_digest)

    kb_sub = add_kb_arguments(sub)
    rep = kb_sub.add_parser("report", help="per-article feedback and KB gaps from the database")
    rep.add_argument("--db", default=None, help="SQLite file or database URL")
    rep.set_defaults(func=cmd_kb_report)
    rel = kb_sub.add_parser("reload", help="make running desks rebuild their KB (files + learned questions)")
    rel.add_argument("--db", default=None, help="SQLite file or database URL")
    rel.set_defaults(func=cmd_kb_reload)
    dr = kb_sub.add_parser("drafts", help="list draft articles saved from resolved tickets")
    dr.add_argument("--dir", default=None, help="drafts directory (default: desk.kb_drafts_dir)")
    dr.set_defaults(func=cmd_kb_drafts)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    level = args.log_level or ("INFO" if args.command == "run" else "WARNING")
    try:
        setup_logging(level, args.log_format)
    except ValueError:
        parser.error(f"--log-level: unknown level {args.log_level!r}")
    if args.command == "run" and logging.getLogger().level > logging.DEBUG:
        # One line per event is the engine's "event handled"; aiogram's own per-update line
        # and aiohttp's access log would repeat it.
        # Alembic's per-step chatter is summed up by deskbot.app's "database migrated" line.
        for name in ("aiogram.event", "aiohttp.access", "alembic.runtime.migration"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
