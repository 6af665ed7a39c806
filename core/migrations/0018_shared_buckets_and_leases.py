"""Rate-limit buckets and leases shared by every worker process (core.buckets,
core.leases)."""

from core.models import Lease, RateBucket


def up(db):
    db.create_tables([RateBucket, Lease], safe=True)
