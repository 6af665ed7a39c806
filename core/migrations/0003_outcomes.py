"""A/B outcomes imported per ASIN and period (core.abtest.Outcome)."""

from core.abtest import Outcome


def up(db):
    db.create_tables([Outcome], safe=True)
