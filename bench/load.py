"""Load: simulated employees and agents against a real ``deskbot run`` (issue 12, must-show 1).

A real ``deskbot run`` process (the command line, :mod:`bench._run`) serves Telegram
(webhook mode: updates POSTed with the secret header) and Slack (signed Events API and
interactivity POSTs to ``/slack/events``) against the fake platform APIs of ``tests/fakes``
in this process. Simulated people drive whole requests (:class:`bench._run.Flow`): the
request text, the taps (open a ticket, the category), the agent's claim, the agent's
reply, the requester's reply, the resolve — half of them in Telegram, half in Slack, a
new employee per request, spread round robin over 10 teams (each with its own Telegram
group and Slack channel, one routing word, the same 5 agents per platform in each). Why
several teams: deskbot delivers one message at a time per chat, in order, so one team
chat taking every card, claim and reply is a single lane (and Telegram would allow it 20
messages a minute); ``--teams 1`` runs that shape (the sample's IT team).

The offered rate ramps up in steps (default 50, 100, 200, 400, 800 inbound events/s, 10 s
each) with 50 concurrent senders: at each tick a sender takes a request whose next event
is due (or starts a new one) and POSTs that event; it is free again when the HTTP answer
came, so at most 50 requests are in flight. A person "thinks" 0.2 s between seeing the
bot's answer and their next event. Per step and per database (a fresh SQLite file, a fresh
PostgreSQL database) it prints:

- achieved: inbound events answered 2xx per second (the bot keeps up when this is the
  offered rate);
- p50 / p95 / p99: from the start of the inbound request to the matching outbound call
  reaching the fake (what the person sees: the KB offer, the category question, "#N
  created", the card updated after a claim, the agent's words in the requester's chat,
  the requester's words in the team chat, the resolution note) — through the engine,
  the outbox and the worker; ack p99: the webhook's own answer time;
- errors: non-2xx answers, failed connections and events whose answer never came
  (30 s), with the first few reasons;
- the outbox backlog at the end of the step (``/healthz``), the bot's and this
  process's CPU share (this process plays both platforms and all the people: near 1.0 it
  is the limit, not the bot), the bot's peak RSS (``VmHWM``); ``pg cpu``: the local
  PostgreSQL server's processes (a lower bound, even negative: a backend that exits takes
  its CPU out of the sum, and the bot's pool closes its overflow connections), ``host cpu``:
  cores busy on the whole machine (on a 2-core machine near 2.0 nothing is left; in the bare
  baseline it is bot + bench when the machine is otherwise quiet).

"sustained" is the highest step the bot kept up with: achieved ≥ 95 % of offered, p99 ≤
250 ms, no errors. After the ramp, a "max" step per platform sends back to back (each of
the 50 senders posts its next event as soon as its last one was answered): the most the
bot takes. The baseline, in the same run, behind the same webhook and fakes: a bare
aiogram handler that only answers each message (``bench/_bare_telegram.py``) and a bare
bolt listener (``bench/_bare_slack.py``) under the same "max" step; our/bare is printed
per platform.

The platforms' rate limits are OFF for these figures, in the fakes and in deskbot's own
pacing (``bench/_unpaced.py``; one team chat takes all the cards, and Telegram allows 20
messages a minute in a group, so with pacing on the latency would be the group's queue,
not the desk's work). Flooding is measured with the limits on by ``bench/flood.py``.
``--paced`` runs the real ``deskbot run`` instead, to show that.

Process shapes: one ``deskbot run`` (role ``all``, the default); ``--split``: a ``--role
web`` process takes the webhooks and a ``--role runner`` process delivers and schedules;
``--web-procs N`` (implies ``--split``; PostgreSQL): N web processes share one port
(``server.reuse_port``: the kernel spreads the fakes' connections over them) beside the
runner. The bot's CPU and peak RSS are then the processes' sums (``bot cpu`` above 1.0 means
more than one core).

Run from the repository root::

    python bench/load.py                 # the full ramp on SQLite and PostgreSQL (~8 min)
    python bench/load.py --smoke         # seconds of load: one low step, SQLite (the tests)
    python bench/load.py --db sqlite --steps 100,300 --step-seconds 20
    python bench/load.py --db postgres --web-procs 2   # 2 web processes on one port + the runner

Exit status 0 when the run completed (the targets are printed, not enforced), 1 when a
process could not be started.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._run import (  # noqa: E402
    DeskbotProcess,
    EchoFlow,
    Fakes,
    Flow,
    Population,
    SplitDeskbot,
    Step,
    fresh_database,
    write_config,
)

TARGET_RATE = 300.0  # must-show 1: SQLite sustains at least this many inbound events/s
TARGET_P99 = 0.250  # seconds
TARGET_RATIO = 0.5  # of the bare handler's throughput
KEPT_UP = 0.95  # achieved / offered for a step to count as kept up
PLATFORMS = ("telegram", "slack")
FINISH = 40  # requests open after the ramp taken to the end (proof the whole flow works)


@dataclass
class Figures:
    """One step's numbers."""

    db: str
    name: str  # "50" ... or "max telegram"
    offered: float | None
    seconds: float
    platforms: tuple[str, ...]
    events: int = 0  # inbound events sent in the window
    answered: int = 0  # answered 2xx
    skipped: int = 0  # ticks with every sender busy (offered but not sent)
    latencies: list[float] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    backlog: int | None = None
    rss_mb: float | None = None
    bot_cpu: float | None = None
    bench_cpu: float | None = None
    host_cpu: float | None = None  # cores busy on the whole machine (every process, /proc/stat)
    pg_cpu: float | None = None  # cores used by local PostgreSQL server processes

    @property
    def achieved(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def pct(self, q: float, values: list[float] | None = None) -> float | None:
        data = sorted(self.latencies if values is None else values)
        if not data:
            return None
        return data[min(len(data) - 1, max(0, round(q * len(data) + 0.5) - 1))]

    @property
    def cpu_ms_per_event(self) -> float | None:
        """The bot's CPU time per answered event (a figure the other load on a shared machine
        changes far less than rates and latencies)."""
        if self.bot_cpu is None or not self.answered:
            return None
        return self.bot_cpu * self.seconds / self.answered * 1000

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def kept_up(self) -> bool:
        p99 = self.pct(0.99)
        return (self.offered is not None and self.achieved >= KEPT_UP * self.offered and self.error_count == 0
                and p99 is not None and p99 <= TARGET_P99)


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


HEADER = (f"{'step':>14} {'offered':>7} {'achieved':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'ack p99':>7} {'errors':>6} {'backlog':>7} {'bot cpu':>7} {'cpu ms/ev':>9} {'bench cpu':>9} {'rss MB':>6} "
          f"{'pg cpu':>6} {'host cpu':>8}")


def row(f: Figures) -> str:
    offered = "max" if f.offered is None else f"{f.offered:.0f}"
    return (f"{f.name:>14} {offered:>7} {f.achieved:>8.1f} {ms(f.pct(0.5)):>7} {ms(f.pct(0.95)):>7} "
            f"{ms(f.pct(0.99)):>7} {ms(f.pct(0.99, f.acks)):>7} {f.error_count:>6} "
            f"{'-' if f.backlog is None else f.backlog:>7} {share(f.bot_cpu):>7} "
            f"{'-' if f.cpu_ms_per_event is None else f'{f.cpu_ms_per_event:.1f}':>9} {share(f.bench_cpu):>9} "
            f"{'-' if f.rss_mb is None else f'{f.rss_mb:.0f}':>6} {share(f.pg_cpu):>6} {share(f.host_cpu):>8}")


def result_line(f: Figures) -> str:
    """Machine-readable: one line per step (the smoke test reads these)."""
    return (f"RESULT db={f.db} step={f.name.replace(' ', '_')} offered={'max' if f.offered is None else f'{f.offered:.0f}'} "
            f"achieved={f.achieved:.1f} p50_ms={ms(f.pct(0.5))} p95_ms={ms(f.pct(0.95))} p99_ms={ms(f.pct(0.99))} "
            f"errors={f.error_count} events={f.events} rss_mb={'-' if f.rss_mb is None else f'{f.rss_mb:.0f}'} "
            f"cpu_ms_per_event={'-' if f.cpu_ms_per_event is None else f'{f.cpu_ms_per_event:.2f}'}")


class Driver:
    """Offers events at a rate through ``senders`` concurrent senders (see the module docstring)."""

    def __init__(self, make_flow: Callable[[str], Any], platforms: tuple[str, ...], *, senders: int,
                 think: float) -> None:
        self.make_flow = make_flow
        self.platforms = platforms
        self.senders = senders
        self.think = think
        self.ready: deque[Any] = deque()
        self._next_platform = itertools.cycle(platforms)
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy = 0  # events sent whose outbound call is still awaited
        self._idle = asyncio.Event()
        self._idle.set()

    def _take(self) -> Any:
        while self.ready:
            flow = self.ready.popleft()
            if not flow.done:
                return flow
        return self.make_flow(next(self._next_platform))

    async def _run(self, flow: Any, acked: asyncio.Event, steps: list[Step]) -> None:
        self._busy += 1
        self._idle.clear()
        try:
            step = await flow.next(acked)
        finally:
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()
        if step is not None:
            steps.append(step)
        if not flow.done:
            await asyncio.sleep(self.think)  # the person reads the answer: simulated, not synchronisation
            self.ready.append(flow)

    async def step(self, rate: float | None, seconds: float) -> tuple[list[Step], int, float]:
        """Offer ``rate`` events/s (None: back to back) for ``seconds``; (the steps started
        in the window, ticks skipped because every sender was busy, the window's length)."""
        steps: list[Step] = []
        skipped = 0
        due: asyncio.Queue[float | None] = asyncio.Queue()
        start = time.monotonic()
        stop_at = start + seconds

        async def dispatch() -> None:
            nonlocal skipped
            assert rate is not None
            for i in itertools.count():
                at = start + i / rate
                if at >= stop_at:
                    break
                delay = at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # the offered rate's clock
                if due.qsize() >= self.senders:
                    skipped += 1
                else:
                    due.put_nowait(at)
            for _ in range(self.senders):
                due.put_nowait(None)

        async def sender() -> None:
            while True:
                if rate is not None:
                    if await due.get() is None:
                        return
                elif time.monotonic() >= stop_at:
                    return
                acked = asyncio.Event()
                task = asyncio.create_task(self._run(self._take(), acked, steps))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                await acked.wait()

        jobs = [asyncio.create_task(sender()) for _ in range(self.senders)]
        if rate is not None:
            jobs.append(asyncio.create_task(dispatch()))
        await asyncio.gather(*jobs)
        window = max(seconds, time.monotonic() - start) if rate is None else seconds
        # Let the events in flight find their answers (each waits at most the population's timeout).
        await self._idle.wait()
        in_window = [s for s in steps if start <= s.started < start + window]
        return in_window, skipped, window

    async def finish(self, timeout: float, most: int) -> list[Any]:
        """Take up to ``most`` of the requests still open to their end, not timed (after the
        measured steps); returns them."""
        await self.drain(timeout)

        async def to_the_end(flow: Any) -> None:
            while not flow.done and await flow.next() is not None:
                await asyncio.sleep(self.think)  # the person reads the answer (simulated)

        flows = [f for f in self.ready if not f.done][:most]
        self.ready.clear()
        if flows:
            tasks = [asyncio.create_task(to_the_end(f)) for f in flows]
            _, late = await asyncio.wait(tasks, timeout=timeout)
            for task in late:
                task.cancel()
        return flows

    async def drain(self, timeout: float) -> None:
        """Wait for every event in flight (and the persons thinking) to finish."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


def figures_of(db: str, name: str, rate: float | None, platforms: tuple[str, ...], steps: list[Step],
               skipped: int, window: float) -> Figures:
    f = Figures(db=db, name=name, offered=rate, seconds=window, platforms=platforms, skipped=skipped)
    f.events = len(steps)
    for s in steps:
        if 200 <= s.status < 300:
            f.answered += 1
            f.acks.append(s.ack_latency)
        if s.ok:
            f.latencies.append(s.latency)
            f.by_kind.setdefault(f"{s.platform}:{s.kind}", []).append(s.latency)
        else:
            f.errors[(s.error or "?")[:120]] += 1
    return f


def _host_busy() -> float | None:
    """CPU seconds the whole machine spent not idle so far (Linux /proc/stat), all cores."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> float | None:
    """CPU seconds of the local PostgreSQL server's processes now alive (a backend that exited
    took its CPU with it: over a step this is a lower bound, even negative), None when there
    is none to see."""
    total, seen = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" not in text[:64]:
            continue
        fields = text.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
        seen = True
    return total / os.sysconf("SC_CLK_TCK") if seen else None


class CpuMeter:
    """CPU shares over a step: the bot's processes, this bench, PostgreSQL, the whole machine
    (the rest is other sessions' work on a shared machine)."""

    def __init__(self, proc: DeskbotProcess | SplitDeskbot) -> None:
        self.proc = proc
        self.wall = time.monotonic()
        self.bot = proc.cpu_seconds()
        self.bench = self._own()
        self.host = _host_busy()
        self.pg = _postgres_cpu()

    @staticmethod
    def _own() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def read(self, f: Figures) -> None:
        wall = time.monotonic() - self.wall
        bot = self.proc.cpu_seconds()
        if bot is not None and self.bot is not None and wall > 0:
            f.bot_cpu = (bot - self.bot) / wall
        f.bench_cpu = (self._own() - self.bench) / wall if wall > 0 else None
        host, pg = _host_busy(), _postgres_cpu()
        if host is not None and self.host is not None and wall > 0:
            f.host_cpu = (host - self.host) / wall
        if pg is not None and self.pg is not None and wall > 0:
            f.pg_cpu = (pg - self.pg) / wall


async def measure(driver: Driver, proc: DeskbotProcess | SplitDeskbot, db: str, name: str, rate: float | None,
                  seconds: float, platforms: tuple[str, ...]) -> Figures:
    meter = CpuMeter(proc)
    steps, skipped, window = await driver.step(rate, seconds)
    f = figures_of(db, name, rate, platforms, steps, skipped, window)
    meter.read(f)
    try:
        _, report = await proc.health()
        f.backlog = (report.get("outbox") or {}).get("backlog")
    except Exception:  # noqa: BLE001 - the figure is optional
        f.backlog = None
    f.rss_mb = proc.peak_rss_mb()
    return f


def print_step(f: Figures) -> None:
    print(row(f), flush=True)
    for reason, n in f.errors.most_common(3):
        print(f"{'':>16}error x{n}: {reason}", flush=True)
    if f.skipped:
        print(f"{'':>16}{f.skipped} ticks skipped: all senders busy (offered {f.skipped / f.seconds:.0f}/s not sent)",
              flush=True)


def print_kinds(f: Figures) -> None:
    parts = [f"{kind} {ms(f.pct(0.5, v))}/{ms(f.pct(0.99, v))}" for kind, v in sorted(f.by_kind.items())]
    print(f"{'':>16}p50/p99 ms by event: " + ", ".join(parts), flush=True)


# --- runs ----------------------------------------------------------------------------------------

@dataclass
class Plan:
    dbs: tuple[str, ...]
    steps: tuple[float, ...]
    step_seconds: float
    max_seconds: float
    senders: int
    think: float
    warmup_seconds: float
    paced: bool
    bare: bool
    teams: int
    split: bool = False  # a web process and a runner process instead of one "all"
    web_procs: int = 1  # with split: web processes sharing one port (server.reuse_port)
    sqlite_driver: str = "inline"  # "aiosqlite": the thread-per-connection driver, for comparison


FULL = Plan(dbs=("sqlite", "postgres"), steps=(50, 100, 200, 400, 800), step_seconds=10.0, max_seconds=10.0,
            senders=50, think=0.2, warmup_seconds=3.0, paced=False, bare=True, teams=10)
SMOKE = Plan(dbs=("sqlite",), steps=(20,), step_seconds=3.0, max_seconds=2.0, senders=50, think=0.2,
             warmup_seconds=0.0, paced=False, bare=True, teams=2)


async def run_desk(plan: Plan, db_kind: str, tmp: Path) -> list[Figures]:
    out: list[Figures] = []
    async with Fakes(rate_limits=False, retain_calls=False, teams=plan.teams) as fakes:
        db = await fresh_database(db_kind, tmp)
        try:
            config = write_config(tmp / f"desk-{db_kind}.yaml", fakes, db.url)
            proc: DeskbotProcess | SplitDeskbot
            if plan.split:
                proc = await SplitDeskbot.start(config, db.url, fakes, log_dir=tmp, paced=plan.paced,
                                                web_procs=plan.web_procs)
            else:
                proc = await DeskbotProcess.start(config, db.url, fakes, log_path=tmp / f"deskbot-{db_kind}.log",
                                                  paced=plan.paced,
                                                  extra_env={"DESKBOT_SQLITE_DRIVER": plan.sqlite_driver})
            try:
                pop = Population(fakes)
                flows: list[Flow] = []

                def make(platform: str) -> Flow:
                    flow = pop.flow(platform)
                    flows.append(flow)
                    return flow

                driver_note = f", SQLite {plan.sqlite_driver}" if db_kind == "sqlite" else ""
                print(f"\n{db_kind}: deskbot run pid {proc.pid} ({'paced' if plan.paced else 'pacing off'}{driver_note}), "
                      f"{plan.senders} senders, think {plan.think}s, {len(fakes.teams)} team(s) with a Telegram "
                      f"group and a Slack channel each, 5 agents", flush=True)
                driver = Driver(make, PLATFORMS, senders=plan.senders, think=plan.think)
                if plan.warmup_seconds:
                    await driver.step(20.0, plan.warmup_seconds)
                    await driver.drain(30.0)
                print(HEADER, flush=True)
                for rate in plan.steps:
                    gc.collect()
                    f = await measure(driver, proc, db_kind, f"{rate:.0f}/s", rate, plan.step_seconds, PLATFORMS)
                    print_step(f)
                    out.append(f)
                await driver.drain(30.0)
                for platforms, name in ((PLATFORMS, "max mix"), (("telegram",), "max telegram"),
                                        (("slack",), "max slack")):
                    solo = Driver(make, platforms, senders=plan.senders, think=plan.think)
                    f = await measure(solo, proc, db_kind, name, None, plan.max_seconds, platforms)
                    await solo.drain(30.0)
                    print_step(f)
                    out.append(f)
                biggest = max((f for f in out if f.offered is not None), key=lambda f: f.achieved)
                print_kinds(biggest)
                finishing = await driver.finish(60.0, FINISH)
                finished = sum(1 for fl in flows if fl.stage == "done")
                failed = [fl for fl in flows if fl.failed]
                print(f"{'':>16}requests: {len(flows)} started, {finished} resolved end to end ({len(finishing)} "
                      f"open after the ramp were taken to the end untimed), {len(failed)} failed; fakes saw "
                      f"{fakes.counts()} calls", flush=True)
                for fl in failed[:3]:
                    print(f"{'':>16}failed: {fl.platform} {fl.steps[-1].kind}: {fl.steps[-1].error}", flush=True)
                print(f"FLOWS db={db_kind} started={len(flows)} resolved={finished} failed={len(failed)}", flush=True)
            finally:
                code = await proc.stop()
                if code != 0:
                    print(f"{'':>16}deskbot run exited with {code}", flush=True)
                if isinstance(proc, SplitDeskbot):  # how the shared port spread the webhooks
                    counts = [w.events_logged() for w in proc.webs]
                    print(f"{'':>16}events handled per web process: {' + '.join(map(str, counts))}", flush=True)
                    print(f"WEBPROCS db={db_kind} handled={','.join(map(str, counts))}", flush=True)
        finally:
            await db.drop()
    return out


async def run_bare(plan: Plan, tmp: Path) -> list[Figures]:
    out: list[Figures] = []
    print("\nbaseline: bare handlers behind the same webhook and fakes (limits off)", flush=True)
    print(HEADER, flush=True)
    for platform in PLATFORMS:
        async with Fakes(rate_limits=False, retain_calls=False, telegram=platform == "telegram",
                         slack=platform == "slack") as fakes:
            proc = await DeskbotProcess.start_bare(platform, fakes, log_path=tmp / f"bare-{platform}.log")
            try:
                pop = Population(fakes)
                pool: list[EchoFlow] = []

                def make(p: str) -> EchoFlow:
                    flow = EchoFlow(pop, p)
                    pool.append(flow)
                    return flow

                driver = Driver(make, (platform,), senders=plan.senders, think=plan.think)
                f = await measure(driver, proc, "bare", f"max {platform}", None, plan.max_seconds, (platform,))
                await driver.drain(30.0)
                print_step(f)
                out.append(f)
            finally:
                await proc.stop()
    return out


def summary(desk: list[Figures], bare: list[Figures], plan: Plan) -> None:
    print("\nsummary (must-show 1: SQLite >= 300 events/s sustained with p99 <= 250 ms; our/bare >= 0.5; "
          "PostgreSQL at least as fast)", flush=True)
    bare_max = {f.platforms[0]: f.achieved for f in bare}
    bare_cpu = {f.platforms[0]: f.cpu_ms_per_event for f in bare}
    for db in plan.dbs:
        mine = [f for f in desk if f.db == db]
        ramp = [f for f in mine if f.offered is not None]
        kept = [f for f in ramp if f.kept_up]
        sustained = max((f.offered or 0.0 for f in kept), default=0.0)
        best = max(ramp, key=lambda f: f.achieved) if ramp else None
        print(f"  {db}: sustained {sustained:.0f} events/s (highest step kept up: >= {KEPT_UP:.0%} of offered, "
              f"p99 <= {TARGET_P99 * 1000:.0f} ms, 0 errors)"
              + (f"; best step achieved {best.achieved:.0f}/s at p99 {ms(best.pct(0.99))} ms" if best else ""),
              flush=True)
        for f in mine:
            if f.offered is None:
                base = bare_max.get(f.platforms[0]) if len(f.platforms) == 1 else None
                ratio = f" = {f.achieved / base:.2f} x bare ({base:.0f}/s)" if base else ""
                if len(f.platforms) > 1 and all(p in bare_max for p in f.platforms):
                    # the bare handlers' capacity for the same platform mix (equal shares)
                    mixed = len(f.platforms) / sum(1 / bare_max[p] for p in f.platforms)
                    ratio = f" = {f.achieved / mixed:.2f} x bare ({mixed:.0f}/s for the same mix)"
                cpu = ""
                if len(f.platforms) == 1 and f.cpu_ms_per_event and bare_cpu.get(f.platforms[0]):
                    cpu = (f"; CPU per event {f.cpu_ms_per_event:.1f} ms vs bare {bare_cpu[f.platforms[0]]:.1f} ms "
                           f"(bare/our {bare_cpu[f.platforms[0]] / f.cpu_ms_per_event:.2f})")  # type: ignore[operator]
                print(f"    {f.name}: {f.achieved:.0f} events/s, p99 {ms(f.pct(0.99))} ms{ratio}{cpu}", flush=True)
        print(f"  RATIO db={db} " + " ".join(
            f"{f.name.replace(' ', '_')}={f.achieved / bare_max[f.platforms[0]]:.2f}"
            for f in mine if f.offered is None and len(f.platforms) == 1 and bare_max.get(f.platforms[0])),
            flush=True)
        print(f"  SUSTAINED db={db} rate={sustained:.0f}", flush=True)
    for f in desk + bare:
        print(result_line(f), flush=True)


async def main_async(plan: Plan) -> int:
    print(f"bench/load.py: inbound events through the real webhooks of deskbot run; {plan.senders} concurrent "
          f"senders; platform rate limits OFF in the fakes and deskbot's pacing "
          f"{'ON (the real deskbot run)' if plan.paced else 'OFF (bench/_unpaced.py)'}; "
          f"the bench process plays both platforms and every person, on the same machine", flush=True)
    with tempfile.TemporaryDirectory(prefix="deskbot-load-") as tmp_dir:
        tmp = Path(tmp_dir)
        desk: list[Figures] = []
        try:
            for db in plan.dbs:
                desk += await run_desk(plan, db, tmp)
            bare = await run_bare(plan, tmp) if plan.bare else []
        except RuntimeError as exc:
            print(f"bench/load.py: {exc}", file=sys.stderr)
            return 1
    summary(desk, bare, plan)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one low step on SQLite, seconds")
    parser.add_argument("--db", default=None, help="sqlite, postgres or both (comma-separated)")
    parser.add_argument("--steps", default=None, help="offered rates, events/s, comma-separated")
    parser.add_argument("--step-seconds", type=float, default=None)
    parser.add_argument("--max-seconds", type=float, default=None, help="length of each back-to-back step")
    parser.add_argument("--senders", type=int, default=None)
    parser.add_argument("--think", type=float, default=None, help="seconds a person waits before the next event")
    parser.add_argument("--paced", action="store_true", help="the real deskbot run, with its own pacing")
    parser.add_argument("--no-bare", action="store_true", help="skip the baseline")
    parser.add_argument("--sqlite-driver", choices=("inline", "aiosqlite"), default=None,
                        help="how deskbot runs SQLite statements (default inline; aiosqlite: as before, on a thread)")
    parser.add_argument("--split", action="store_true",
                        help="deskbot run --role web (takes the webhooks) beside --role runner (delivers)")
    parser.add_argument("--web-procs", type=int, default=None, metavar="N",
                        help="N deskbot run --role web on one port (server.reuse_port) beside one --role "
                             "runner (implies --split; PostgreSQL only)")
    parser.add_argument("--teams", type=int, default=None,
                        help="teams, each with its own group / channel (1: the sample's IT team)")
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    changes: dict[str, Any] = {}
    if args.db:
        changes["dbs"] = tuple(d.strip() for d in args.db.split(",") if d.strip())
    if args.steps:
        changes["steps"] = tuple(float(s) for s in args.steps.split(","))
    for name in ("step_seconds", "max_seconds", "senders", "think", "teams"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.paced:
        changes["paced"] = True
    if args.no_bare:
        changes["bare"] = False
    if args.split:
        changes["split"] = True
    if args.web_procs is not None:
        if args.web_procs < 1:
            parser.error("--web-procs: at least 1")
        changes["split"] = True
        changes["web_procs"] = args.web_procs
    if args.sqlite_driver:
        changes["sqlite_driver"] = args.sqlite_driver
    plan = Plan(**{**plan.__dict__, **changes})
    if plan.web_procs > 1 and "sqlite" in plan.dbs:
        parser.error("--web-procs 2 or more needs --db postgres (server.reuse_port is refused on SQLite)")
    return asyncio.run(main_async(plan))


if __name__ == "__main__":
    sys.exit(main())
