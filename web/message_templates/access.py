"""The template a URL names, or a 404 page."""

from __future__ import annotations

from flask import abort

from core.models import Template


def template_or_404(template_id: int) -> Template:
    template = Template.get_or_none(Template.id == template_id)
    if template is None:
        abort(404)
    return template
