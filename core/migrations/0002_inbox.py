"""Buyer messages read from the seller's inbox (core.inbox.BuyerMessage)."""

from core.inbox import BuyerMessage


def up(db):
    db.create_tables([BuyerMessage], safe=True)
