"""Campaigns: the list, creation from a preset, the campaign page, status changes and
the step editor with its live preview, all on one blueprint (``campaigns``).

Modules, and who may import whom (no view module imports another, so there is no
import cycle):

* ``blueprint`` holds ``bp`` and nothing else; every view module imports it.
* ``access``: the campaign and step a URL names (or a 404) and who may edit them.
* ``forms``: step form values <-> what ``core.campaigns.update_step`` takes.
* ``preview``: the step editor's live preview, composed as the dispatcher would.
* ``views``: the campaign pages; ``steps``: the step editor. Both only hang routes on
  ``bp``; importing them here is what registers those routes.

Every change goes through ``core.campaigns`` so scheduled messages follow it.
"""

from __future__ import annotations

from . import steps, views  # noqa: F401  (importing them registers their routes on bp)
from .blueprint import bp

__all__ = ["bp"]
