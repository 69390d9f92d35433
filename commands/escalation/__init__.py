"""Escalation to the Sustained Engineering Team (issue 6). Importing the package registers its
buttons, dialogs and `/ticket escalate|escalations`; bot/app.py imports it."""

from commands.escalation import handlers as handlers  # noqa: F401  (registers the routes)
from commands.escalation.service import EscalationOptions as EscalationOptions
