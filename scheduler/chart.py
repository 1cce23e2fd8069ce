"""The digest's chart: created vs resolved per day, with the SLA breach share, as PNG bytes.

Drawn with matplotlib's Agg canvas on a :class:`~matplotlib.figure.Figure` of its own (no
pyplot: no global figure state, safe in a worker thread, no display needed). Labels are
in the reader's language (texts ``chart_*``, Babel day names).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from handlers.texts import Translator
from store.metrics import DayFlow

WIDTH_IN, HEIGHT_IN, DPI = 9.0, 4.0, 100  # 900 x 400 pixels


def render_chart(days: Sequence[DayFlow], *, zone: ZoneInfo, t: Translator, title: str) -> bytes:
    """Bars of created and resolved tickets per day and a line of the breach share
    (resolved tickets that missed an SLA, in %, on the right axis)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = list(range(len(days)))
    labels = [format_skeleton("MMMd", d.day_start.astimezone(zone), tzinfo=zone, locale=t.locale) for d in days]
    width = 0.4
    ax.bar([x - width / 2 for x in xs], [d.created for d in days], width, label=t("chart_created"), color="#4C72B0")
    ax.bar([x + width / 2 for x in xs], [d.resolved for d in days], width, label=t("chart_resolved"), color="#55A868")
    ax.set_xticks(xs, labels, rotation=45, ha="right", fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(t("chart_tickets"))
    ax.set_title(title)
    share = fig.axes[0].twinx()
    share.plot(xs, [100 * d.breached / d.resolved if d.resolved else float("nan") for d in days],
               color="#C44E52", marker="o", label=t("chart_breach"))
    share.set_ylim(0, 100)
    share.yaxis.set_major_formatter(PercentFormatter())
    share.set_ylabel(t("chart_breach"))
    handles = ax.get_legend_handles_labels()
    more = share.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
