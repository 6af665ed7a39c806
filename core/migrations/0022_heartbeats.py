"""Heartbeats: the worker's last sign of life and the last backup (core.heartbeat)."""

from core.models import Heartbeat


def up(db):
    # 0001 creates tables from the current models, so on a fresh install it exists.
    db.create_tables([Heartbeat], safe=True)
