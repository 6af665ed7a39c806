"""The data model. All datetimes are stored naive in UTC (``core.clock.utcnow``).

Uniqueness constraints carry the product's promises: one event of each kind per order,
one message per (order, step), one decision per (order, step). Code relies on the
database to refuse a duplicate rather than on checking first.
"""

from __future__ import annotations

import json

from peewee import (
    BlobField,
    BooleanField,
    CharField,
    DateTimeField,
    DoubleField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from .clock import utcnow
from .db import database


class JSONField(TextField):
    """JSON stored as text, so SQLite and PostgreSQL behave alike."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class User(BaseModel):
    username = CharField(unique=True, max_length=80)
    password_hash = CharField(max_length=255)
    role = CharField(default="admin", max_length=16)  # admin, editor, viewer
    must_change_password = BooleanField(default=True)
    failed_logins = IntegerField(default=0)
    locked_until = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)


class SellerAccount(BaseModel):
    name = CharField(max_length=120)
    source = CharField(max_length=40)  # order source plugin name: "amazon", "demo", ...
    region = CharField(max_length=8, default="")  # NA, EU, FE
    marketplaces = JSONField(default=list)  # marketplace codes, e.g. ["US", "CA"]
    credentials = BlobField(null=True)  # Fernet-encrypted JSON, never plain text
    is_demo = BooleanField(default=False)
    status = CharField(default="new", max_length=16)  # new, ok, error, syncing
    status_message = TextField(default="")
    sync_cursor = DateTimeField(null=True)  # advances only with the data it covers
    sync_progress = JSONField(null=True)  # {"done": n, "total": m, "text": "..."}
    last_sync_at = DateTimeField(null=True)
    test_address = CharField(default="", max_length=255)  # the seller's own test inbox
    # Product and brand names the spelling rule accepts, one per line (docs/linter.md).
    allowed_words = TextField(default="")
    created_at = DateTimeField(default=utcnow)


class Order(BaseModel):
    account = ForeignKeyField(SellerAccount, backref="orders", on_delete="CASCADE")
    order_id = CharField(max_length=40, index=True)  # Amazon's 17-digit id, 3-7-7
    marketplace = CharField(max_length=4, index=True)
    fulfillment = CharField(max_length=4)  # FBA, FBM
    status = CharField(max_length=64)  # Amazon order status, e.g. "Shipped - Delivered to Buyer"
    purchased_at = DateTimeField(index=True)
    last_updated_at = DateTimeField()
    shipped_at = DateTimeField(null=True)
    earliest_delivery = DateTimeField(null=True)
    latest_delivery = DateTimeField(null=True)
    delivery_confirmed = BooleanField(default=False)
    total = FloatField(default=0)
    currency = CharField(max_length=3, default="")
    buyer_key = CharField(max_length=128, default="", index=True)
    buyer_email = CharField(max_length=255, default="")  # the anonymized relay address
    buyer_locale = CharField(max_length=16, default="")
    ship_country = CharField(max_length=2, default="")
    is_business = BooleanField(default=False)
    is_prime = BooleanField(default=False)
    shipped_late = BooleanField(default=False)
    item_count = IntegerField(default=0)
    negative_feedback = BooleanField(default=False)
    messages_stopped = BooleanField(default=False)  # "stop messages for this order"
    is_demo = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("account", "order_id"), True),
            (("marketplace", "purchased_at"), False),  # the orders page, filtered, newest first
            # core.live: a re-plan finds the live orders by these ranges (migration 0017).
            (("latest_delivery",), False),
            (("shipped_at",), False),
            # The orders page by account or by status, newest first (migration 0017).
            (("account", "purchased_at"), False),
            (("status", "purchased_at"), False),
        )

    def event_times(self) -> dict:
        """{event kind: occurred_at}, read once per loaded order (planning preloads it)."""
        cached = self.__dict__.get("_event_times")
        if cached is None:
            rows = OrderEvent.select(OrderEvent.kind, OrderEvent.occurred_at).where(
                OrderEvent.order == self.id
            )
            cached = {kind: when for kind, when in rows.tuples()}
            self.__dict__["_event_times"] = cached
        return cached

    def unwanted_event(self) -> tuple[str, object] | None:
        """The earliest cancellation, return or refund, as (kind, when), or None."""
        events = self.event_times()
        found = [
            (when, kind)
            for kind in ("cancelled", "returned", "refunded")
            if (when := events.get(kind))
        ]
        if not found:
            return None
        when, kind = min(found)
        return kind, when


class OrderItem(BaseModel):
    order = ForeignKeyField(Order, backref="items", on_delete="CASCADE")
    sku = CharField(max_length=80, index=True)
    asin = CharField(max_length=20, index=True)
    title = TextField(default="")
    quantity = IntegerField(default=1)
    price = FloatField(default=0)


class Product(BaseModel):
    """Every (SKU, ASIN, title) seen in an order's items (``core.store`` adds them), so
    the orders page searches titles in the catalogue, a few thousand rows, instead of
    every item ever sold, then finds the orders through the item indexes."""

    sku = CharField(max_length=80)
    asin = CharField(max_length=20)
    title = TextField(default="")

    class Meta:
        indexes = ((("sku", "asin", "title"), True),)


class OrderEvent(BaseModel):
    order = ForeignKeyField(Order, backref="events", on_delete="CASCADE")
    kind = CharField(max_length=24)
    occurred_at = DateTimeField()
    recorded_at = DateTimeField(default=utcnow)
    source = CharField(max_length=40, default="")

    class Meta:
        indexes = (
            (("order", "kind"), True),
            (("kind", "occurred_at"), False),  # core.live: recent shipments (migration 0017)
        )


class Template(BaseModel):
    name = CharField(max_length=120)
    channel = CharField(max_length=24)  # sender family: messaging, email, solicitation
    message_type = CharField(max_length=48, default="")
    library_key = CharField(max_length=48, default="")
    created_at = DateTimeField(default=utcnow)


class TemplateVersion(BaseModel):
    template = ForeignKeyField(Template, backref="versions", on_delete="CASCADE")
    number = IntegerField()
    created_at = DateTimeField(default=utcnow)
    created_by = CharField(max_length=80, default="")
    note = TextField(default="")
    theme = CharField(max_length=60, default="")  # email layout (core.themes); "" = no HTML

    class Meta:
        indexes = ((("template", "number"), True),)


class TemplateVariant(BaseModel):
    version = ForeignKeyField(TemplateVersion, backref="variants", on_delete="CASCADE")
    language = CharField(max_length=8)
    subject = TextField(default="")
    body = TextField(default="")
    html = TextField(default="")

    class Meta:
        indexes = ((("version", "language"), True),)


class Campaign(BaseModel):
    name = CharField(max_length=120)
    status = CharField(default="draft", max_length=12)  # draft, test, active, paused
    account = ForeignKeyField(SellerAccount, null=True, backref="campaigns")
    description = TextField(default="")
    preset = CharField(max_length=80, default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    # An edit of a campaign serving many orders asks the worker to re-plan it (stored
    # here, so a crash or a lost huey task loses nothing); the lease keeps two worker
    # threads from re-planning it at once (core.campaigns.run_pending_replans).
    replan_requested_at = DateTimeField(null=True)
    replan_lease_until = DateTimeField(null=True)
    # The activation cut-off: orders placed before it never get this campaign's messages
    # ("new orders only", or "also the last N days"); NULL: no cut-off (core.activation).
    orders_from = DateTimeField(null=True)


class Step(BaseModel):
    campaign = ForeignKeyField(Campaign, backref="steps", on_delete="CASCADE")
    position = IntegerField(default=0)
    name = CharField(max_length=120, default="")
    trigger = CharField(max_length=40)
    delay_days = IntegerField(default=0)
    delay_hours = IntegerField(default=0)
    # "event": delay counts from the trigger; "review_window": from the day the
    # review-request window opens (a plugin's review_request_window hook).
    anchor = CharField(max_length=24, default="event")
    window_start_hour = IntegerField(default=9)
    window_end_hour = IntegerField(default=18)
    weekdays = CharField(max_length=7, default="0123456")  # Monday = 0
    skip_holidays = BooleanField(default=False)
    rules = JSONField(default=list)  # [{"rule": name, "params": {...}}]
    template = ForeignKeyField(Template, null=True, backref="steps")
    sender = CharField(max_length=40)
    message_type = CharField(max_length=48, default="")
    priority = IntegerField(default=5)  # 1 = highest
    no_variant_policy = CharField(max_length=24, default="skip")  # skip, review_request
    critical = BooleanField(default=False)  # needed to complete the order ([Important])
    variants = JSONField(default=list)  # A/B: [{"template": id, "weight": n}]
    holdout_percent = IntegerField(default=0)
    product_content = JSONField(default=dict)  # SKU -> {"manual": ..., ...}
    updated_at = DateTimeField(default=utcnow)


class Message(BaseModel):
    order = ForeignKeyField(Order, backref="messages", on_delete="CASCADE")
    step = ForeignKeyField(Step, null=True, backref="messages", on_delete="SET NULL")
    campaign = ForeignKeyField(Campaign, null=True, backref="messages", on_delete="SET NULL")
    account = ForeignKeyField(SellerAccount, backref="messages", on_delete="CASCADE")
    sender = CharField(max_length=40)
    state = CharField(max_length=12, index=True)
    due_at = DateTimeField(index=True)
    priority = IntegerField(default=5)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(null=True)
    lease_until = DateTimeField(null=True)
    lease_owner = CharField(max_length=64, default="")
    # Raised by every claim: with lease_owner it fences each transition out of
    # "sending" to the claim it came from (core.dispatch), so a worker holding a stale
    # copy can never send or overwrite what another worker did since.
    claim_seq = IntegerField(default=0)
    reason = TextField(default="")  # why skipped / waiting / cancelled
    error = TextField(default="")
    review_request = BooleanField(default=False)
    dry_run = BooleanField(default=False)
    variant = CharField(max_length=24, default="")  # A/B variant label or "holdout"
    template_version = ForeignKeyField(TemplateVersion, null=True, on_delete="SET NULL")
    language = CharField(max_length=8, default="")
    subject = TextField(default="")
    body = TextField(default="")
    external_id = CharField(max_length=128, default="")
    sent_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("order", "step"), True),
            (("state", "due_at"), False),
            (("state", "id"), False),  # the outbox filtered by state, newest first
            (("account", "sent_at"), False),
        )


class Attempt(BaseModel):
    message = ForeignKeyField(Message, backref="attempt_log", on_delete="CASCADE")
    started_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)
    outcome = CharField(max_length=12, default="")
    detail = TextField(default="")


class Decision(BaseModel):
    """Why a step did or did not plan a message for an order (latest word per pair)."""

    order = ForeignKeyField(Order, backref="decisions", on_delete="CASCADE")
    step = ForeignKeyField(Step, backref="decisions", on_delete="CASCADE")
    outcome = CharField(max_length=12)  # planned, waiting, excluded
    reason = TextField(default="")
    decided_by = TextField(default="")  # the plugin or rule that decided, as it describes itself
    decided_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("order", "step"), True),)


class OptOut(BaseModel):
    """A buyer who must not be messaged: Amazon opt-out or the seller's blocklist."""

    buyer_key = CharField(max_length=128, index=True)
    kind = CharField(max_length=12)  # opt_out, blocklist
    reason = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    created_by = CharField(max_length=80, default="")
    # A blocklist entry may end by itself (core.blocklist.expire_blocklist); NULL = never.
    expires_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("buyer_key", "kind"), True),)


class PluginSetting(BaseModel):
    plugin = CharField(max_length=60)
    marketplace = CharField(max_length=4, default="")  # "" = every marketplace
    key = CharField(max_length=60)
    value = JSONField(null=True)

    class Meta:
        indexes = ((("plugin", "marketplace", "key"), True),)


class AuditLog(BaseModel):
    at = DateTimeField(default=utcnow, index=True)
    user = CharField(max_length=80, default="")
    action = CharField(max_length=60)
    target = CharField(max_length=120, default="")
    detail = TextField(default="")


ALL_MODELS = (
    User,
    SellerAccount,
    Order,
    OrderItem,
    OrderEvent,
    Template,
    TemplateVersion,
    TemplateVariant,
    Campaign,
    Step,
    Message,
    Attempt,
    Decision,
    OptOut,
    PluginSetting,
    AuditLog,
)


class EmailTheme(BaseModel):
    """A seller's own email layout (``core.themes``); saved only when it lints clean."""

    key = CharField(max_length=60, unique=True)
    name = CharField(max_length=120)
    description = TextField(default="")
    layout = TextField()
    created_by = CharField(max_length=80, default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


ALL_MODELS += (EmailTheme,)


class SellerFeedback(BaseModel):
    """Seller feedback a buyer left on an order, as read from the marketplace (Amazon's
    seller-feedback report: docs/amazon-rules.md, "Seller feedback"). One per order; the
    text stays on the seller's own server, no buyer data is kept."""

    account = ForeignKeyField(SellerAccount, backref="feedback", on_delete="CASCADE")
    order_id = CharField(max_length=40, index=True)
    marketplace = CharField(max_length=4, default="")
    rating = IntegerField()  # 1-5 stars; 1-2 negative, 3 neutral
    left_at = DateTimeField(index=True)  # the day the buyer left it (UTC midnight)
    comments = TextField(default="")
    response = TextField(default="")  # the seller's public answer, if any
    read_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("account", "order_id"), True),)


class FeedbackRead(BaseModel):
    """When an account's seller feedback was last read, up to when, and what went wrong."""

    account = ForeignKeyField(SellerAccount, unique=True, on_delete="CASCADE")
    last_run_at = DateTimeField(null=True)
    read_until = DateTimeField(null=True)  # the last report's data end: the next start
    last_error = TextField(default="")


ALL_MODELS += (SellerFeedback, FeedbackRead)


class LoginSession(BaseModel):
    """A signed-in browser (``core.sessions``): the cookie holds a random token, this row
    only its SHA-256, so the session ends when the row goes (logout, password or role
    change, disabled user)."""

    token_hash = CharField(max_length=64, unique=True)
    user = ForeignKeyField(User, backref="login_sessions", on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)


class LoginThrottle(BaseModel):
    """Recent failed sign-ins per address, per user and per (user, address)
    (``core.login_throttle``)."""

    key = CharField(max_length=200, unique=True)
    failures = IntegerField(default=0)
    last_failure_at = DateTimeField(default=utcnow, index=True)


ALL_MODELS += (LoginSession, LoginThrottle)


class Heartbeat(BaseModel):
    """When something last proved it is alive (``core.heartbeat``): a worker per host
    (``worker@HOST``) each minute, ``backup`` at each ``followup backup``."""

    name = CharField(max_length=120, unique=True)
    beat_at = DateTimeField(default=utcnow)
    detail = CharField(max_length=255, default="")


ALL_MODELS += (Heartbeat,)


class RateBucket(BaseModel):
    """A token bucket shared by every process of an installation (``core.buckets``,
    used when the queue is not Redis): ``tokens`` as of ``stamp`` (epoch seconds)."""

    name = CharField(max_length=200, primary_key=True)
    # Double precision: a single-precision epoch time (PostgreSQL's REAL, peewee's
    # FloatField there) is only accurate to minutes.
    tokens = DoubleField()
    stamp = DoubleField()
    rate = DoubleField()


class Lease(BaseModel):
    """A named lease (``core.leases``): the installation's tick, one account's sync."""

    name = CharField(max_length=200, primary_key=True)
    owner = CharField(max_length=120, default="")
    expires_at = DateTimeField()


ALL_MODELS += (RateBucket, Lease)
ALL_MODELS += (Product,)  # migration 0017
