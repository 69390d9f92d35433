"""The summary's chart: opened vs solved per day, the backlog, breaches marked. Headless (Agg).

The bot renders it in a short-lived child process (`render_apart`): matplotlib and numpy add
~40 MiB to whatever process imports them, for good, and the bot needs them for one picture a
day. Run as `python -m commands.summary.chart`, this module reads the days as JSON on stdin and
writes the PNG on stdout.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date

from workflows.summary import DayPoint

log = logging.getLogger(__name__)

RENDER_TIMEOUT_S = 60.0
PNG_MAGIC = b"\x89PNG"


async def render_apart(days: Sequence[DayPoint], *, title: str = "Last 14 days") -> bytes | None:
    """The chart, rendered in a child process so matplotlib never loads into the bot (issue 10:
    peak RSS). None when that fails: the summary then goes out without its chart."""
    payload = json.dumps({"title": title, "days": [
        [d.day.isoformat(), d.opened, d.solved, d.backlog, d.breaches] for d in days]}).encode()
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "commands.summary.chart", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        log.warning("summary chart not drawn: cannot start the renderer (%s)", exc)
        return None
    try:
        png, err = await asyncio.wait_for(child.communicate(payload), RENDER_TIMEOUT_S)
    except TimeoutError:
        child.kill()
        await child.wait()
        log.warning("summary chart not drawn: the renderer took over %.0f s", RENDER_TIMEOUT_S)
        return None
    if child.returncode != 0 or not png.startswith(PNG_MAGIC):
        log.warning("summary chart not drawn: the renderer failed (exit %s): %s",
                    child.returncode, err.decode(errors="replace").strip()[-300:])
        return None
    return png


def render_png(days: Sequence[DayPoint], *, title: str = "Last 14 days") -> bytes:
    """A small PNG (about 900x360); a Figure, not pyplot, so no global state and thread-safe."""
    # Imported here: matplotlib adds ~40 MiB to the process, and only the summary post needs it.
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), dpi=100)
    ax = fig.add_subplot()
    xs = list(range(len(days)))
    width = 0.38
    ax.bar(
        [x - width / 2 for x in xs],
        [d.opened for d in days],
        width,
        label="Opened",
        color="#1f77b4",
    )
    ax.bar(
        [x + width / 2 for x in xs],
        [d.solved for d in days],
        width,
        label="Solved",
        color="#2ca02c",
    )
    ax.set_ylabel("Tickets per day")
    ax.set_xticks(xs, [f"{d.day:%a}\n{d.day:%-d %b}" for d in days], fontsize=7)
    backlog = ax.twinx()
    backlog.plot(
        xs, [d.backlog for d in days], color="#ff7f0e", marker="o", markersize=3, label="Backlog"
    )
    backlog.set_ylabel("Backlog")
    backlog.set_ylim(bottom=0)
    breached = [(x, d) for x, d in zip(xs, days, strict=True) if d.breaches]
    if breached:
        backlog.scatter(
            [x for x, _ in breached],
            [d.backlog for _, d in breached],
            marker="X",
            s=70,
            color="#d62728",
            zorder=5,
            label="SLA breaches",
        )
        for x, d in breached:
            backlog.annotate(
                str(d.breaches),
                (x, d.backlog),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=7,
                color="#d62728",
            )
    handles = ax.get_legend_handles_labels()[0] + backlog.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize=7, ncols=4, frameon=False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _main() -> None:
    data = json.load(sys.stdin)
    days = [DayPoint(date.fromisoformat(day), opened, solved, backlog, breaches)
            for day, opened, solved, backlog, breaches in data["days"]]
    sys.stdout.buffer.write(render_png(days, title=data["title"]))


if __name__ == "__main__":
    _main()
