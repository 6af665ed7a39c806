"""The first schema: every table of ``core.models`` as of Followup 0.1."""

from core.models import ALL_MODELS


def up(db):
    db.create_tables(ALL_MODELS, safe=True)
