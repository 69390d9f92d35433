"""The daily summary (issue 7): `/ticket summary`, the scheduled post, hand-over digests."""

from commands.summary import command  # noqa: F401  (registers /ticket summary)
from commands.summary.build import SummaryPolicy
from commands.summary.post import post_scheduled

__all__ = ["SummaryPolicy", "post_scheduled"]
