"""On-call paging (issue 5): the rota in use, the paging check, `/oncall`, the page's buttons.

Importing the package registers the `/oncall` router and the Acknowledge / View ticket buttons.
"""

from commands.oncall import commands as _commands  # noqa: F401  (registers /oncall and buttons)
