"""Seller feedback per order (core.models.SellerFeedback) and when it was last read."""

from core.models import FeedbackRead, SellerFeedback


def up(db):
    db.create_tables([SellerFeedback, FeedbackRead], safe=True)
