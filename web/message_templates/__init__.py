"""Templates: the seller's message templates and the shipped library, the editor with
its placeholder palette and live preview, email themes, versions, diffs and the test
send, all on one blueprint (``templates``, under /templates).

(Named ``message_templates`` so it is never mistaken for ``web/templates/``, the Jinja
pages.) Modules, and who may import whom (no view module imports another, so there is
no import cycle):

* ``blueprint`` holds ``bp`` and nothing else; every view module imports it.
* ``access`` (the template a URL names, or a 404) and ``framing`` (the sandboxed preview
  frame's response): small helpers the views share.
* ``catalog``, ``palette``, ``preview``, ``history``: what the pages compute (listing,
  placeholders, rendering and lint, diffs). No Flask routes; the campaign step editor
  uses ``catalog`` and ``preview`` too.
* ``editor``, ``themes``, ``versions``: the views. They only hang routes on ``bp``;
  importing them here is what registers those routes.
"""

from __future__ import annotations

from . import editor, themes, versions  # noqa: F401  (importing them registers their routes)
from .blueprint import bp

__all__ = ["bp"]
