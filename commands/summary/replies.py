"""Every sentence the summary feature shows to people."""

from __future__ import annotations

DAILY_TITLE = "Daily summary"
ON_DEMAND_TITLE = "Support summary"
CHART_NAME = "summary-14-days.png"
NO_CHART_EPHEMERAL = "_The chart comes with the posted summary (`/ticket summary post`)._"
USAGE = (
    "Usage: `/ticket summary [post] [period]`: period like `24h`, `3d`, `7d` "
    "(default: since the last summary)."
)
POST_STARTED = "Posting the summary, with its chart, to the standup channel…"
POST_FAILED = "The summary could not be posted ({error}); try again in a minute."
METRICS_SKIPPED = (
    "_Period metrics left out to answer in time: `/ticket summary post` includes them._"
)
PERIOD_TOO_LONG = "The period can be at most {days} days."


def handover_title(region: str) -> str:
    return f"Hand-over digest · {region}"
