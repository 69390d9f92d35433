"""The summary's chart: opened vs solved per day, the backlog, breaches marked. Headless (Agg)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from workflows.summary import DayPoint


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
