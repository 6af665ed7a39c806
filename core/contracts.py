"""The value types that cross the plugin boundary.

Plugins build these and hand them to the core through the hooks in ``core.hookspecs``.
They are deliberately plain frozen dataclasses: a plugin author reads this one file to
know every shape the core accepts, and the core never has to guess at duck types.

Every "check" callable in here answers with ``None`` (fine) or a reason string. That one
convention is what lets the order trace answer "why was this (not) sent?".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# Message states. A message always sits in exactly one of these; the final ones never
# change again except through a person's explicit action in the UI.
SCHEDULED = "scheduled"  # waiting for its due time (or for a daily-limit slot)
SENDING = "sending"  # claimed under a lease, committed before the sender is called
SENT = "sent"
SKIPPED = "skipped"  # a rule, veto or preflight said no; reason says which
FAILED = "failed"  # permanent failure; error says why
RETRY = "retry"  # failed, will be tried again at next_attempt_at
IN_DOUBT = "in_doubt"  # the call may or may not have reached the channel
CANCELLED = "cancelled"  # a person or a campaign edit withdrew it

FINAL_STATES = frozenset({SENT, SKIPPED, FAILED, CANCELLED})
WAITING_STATES = frozenset({SCHEDULED, RETRY, IN_DOUBT})
ALL_STATES = FINAL_STATES | WAITING_STATES | {SENDING}

# Campaign statuses whose steps plan and send: "active" for real, "test" through the
# dry-run sender only, with a copy to the seller's own test address (core.seller_copies).
SENDING_STATUSES = ("active", "test")

# Order event kinds the core knows. Plugins may add triggers for other kinds.
ORDERED = "ordered"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED_EVENT = "cancelled"
RETURNED = "returned"
REFUNDED = "refunded"
EVENT_KINDS = (ORDERED, SHIPPED, DELIVERED, CANCELLED_EVENT, RETURNED, REFUNDED)


@dataclass(frozen=True)
class Marketplace:
    """One storefront: ``code`` is the short name used everywhere in Followup (``DE``)."""

    code: str
    marketplace_id: str
    region: str
    languages: tuple[str, ...]
    timezone: str
    country: str
    currency: str
    name: str = ""
    eu_vat: bool = False


@dataclass(frozen=True)
class Trigger:
    """An order event a campaign step can start from.

    ``anchor(engine, order, events)`` returns the UTC datetime the step's delay counts from, or
    ``None`` when the event has not happened (yet) for this order; ``waiting_reason``
    is what the trace shows then.
    """

    name: str
    label: str
    anchor: Callable[[Any, Any, Mapping[str, datetime]], datetime | None]
    waiting_reason: str = "waiting: trigger event has not happened"


# The controls a rule parameter can have in the campaign editor (``ParamField.kind``).
PARAM_KINDS = ("marketplaces", "choice", "flag", "number", "whole", "date", "codes", "text")


@dataclass(frozen=True)
class ParamField:
    """One rule parameter as the campaign editor shows it: ``kind`` is one of
    ``PARAM_KINDS`` (``marketplaces``: a multi-select of the known marketplaces;
    ``choice``: one of ``choices``, (value, label) pairs; ``flag``: yes or no;
    ``number``/``whole``/``date``: typed inputs; ``codes``: a list of SKUs, ASINs or
    country codes; ``text``: anything). The value still goes through the rule's
    ``validate``: the control only helps the seller type it right."""

    key: str
    label: str
    kind: str = "text"
    choices: tuple[tuple[str, str], ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class Rule:
    """A filter a campaign step can use.

    ``check(engine, order, params)`` returns ``None`` when the order passes, else a
    reason such as ``"rule: SKU not in campaign"``. Rules are checked at planning and
    again at send time on fresh data.

    ``sql(q, params)`` is optional: the same check as a set-based SQL form for full
    re-plans (``core.planning_bulk``), a list of ``(fails, reason)`` peewee expressions
    over the order ``q.o``, first match wins. ``None`` (or ``sql`` answering ``None``
    for these params) means "Python only": those steps are planned order by order.

    ``validate(params)`` says what is wrong with a step's parameters before they are
    saved: ``None`` (or ``{}``) when the rule can run with them, else
    ``{param name: what is wrong}``, e.g. ``{"min": "'lots' is not a number"}``. A key
    the rule does not take is an error naming the keys it does take. It should parse
    with the same code ``check`` uses, so what validates is exactly what runs; ``check``
    raises ``ValueError`` with the same words for a stored value it cannot read. Saving
    a step and activating a campaign are refused while a rule answers with problems.
    ``None`` (no validator) lets any parameters through.
    """

    name: str
    label: str
    check: Callable[..., str | None]
    params_help: str = ""
    sql: Callable[..., Any] | None = None
    validate: Callable[[Mapping[str, Any]], dict[str, str] | None] | None = None
    # The editor's controls, one per parameter (``Params.fields`` for a rule built on a
    # spec). A rule without them shows a text input per parameter it has stored.
    fields: tuple[ParamField, ...] = ()


class Params:
    """How one rule reads its parameters: a parser per key, then a check across them.

    A parser takes the stored value and answers what the rule runs with (``None`` when
    unset) or raises ``ValueError`` saying what is wrong in the seller's words. A rule's
    ``validate`` is ``spec.problems`` and its ``check`` reads ``spec.parse(params)``, so
    what validates is exactly what runs, and every rule (core's or a plugin's) words an
    unknown parameter the same way.
    """

    def __init__(
        self,
        label: str,
        parsers: Mapping[str, Callable[[Any], Any]],
        across: Callable[[dict], dict[str, str]] | None = None,
        fields: Iterable[ParamField] = (),
    ):
        self.label, self.parsers, self.across = label, dict(parsers), across
        self.fields = tuple(fields)
        unknown = [f.key for f in self.fields if f.key not in self.parsers]
        if unknown:  # a plugin author's mistake: say it at startup, not in the editor
            raise ValueError(f"{label}: fields {unknown} have no parser")

    def _read(self, params: Mapping) -> tuple[dict, dict[str, str]]:
        values: dict = {}
        problems: dict[str, str] = {}
        takes = ", ".join(self.parsers) or "no parameters"
        for key in params or {}:
            if key not in self.parsers:
                problems[str(key)] = f"unknown parameter ({self.label} takes {takes})"
        for key, parse in self.parsers.items():
            try:
                values[key] = parse((params or {}).get(key))
            except ValueError as exc:
                problems[key] = str(exc)
        if not problems and self.across is not None:
            problems.update(self.across(values))
        return values, problems

    def problems(self, params: Mapping) -> dict[str, str]:
        """{key: what is wrong}; empty when the rule can run with ``params``."""
        return self._read(params)[1]

    def parse(self, params: Mapping) -> dict:
        """The values the rule runs with; ``ValueError`` naming each bad key otherwise."""
        values, problems = self._read(params)
        if problems:
            raise ValueError("; ".join(f"{k}: {why}" for k, why in problems.items()))
        return values

    def parse_or_none(self, params: Mapping) -> dict | None:
        """For the SQL forms: ``None`` sends bad params to Python, whose check says why."""
        values, problems = self._read(params)
        return None if problems else values


@dataclass(frozen=True)
class SendResult:
    """What a sender says happened.

    ``status`` is one of ``sent``, ``skipped``, ``retry``, ``failed``, ``in_doubt``.
    ``retry_after`` (seconds) applies to ``retry``: the earliest moment worth trying
    again (Amazon's ``Retry-After``, or when the rate bucket has a token again).
    ``throttled``: the channel refused for rate only (HTTP 429). Nothing went wrong
    with the message, so it does not use up ``[dispatch] max_attempts``; the dispatcher
    backs off from minutes to hours and gives up only after
    ``[dispatch] throttle_give_up_hours``.
    """

    status: str
    detail: str = ""
    external_id: str = ""
    retry_after: float | None = None
    throttled: bool = False


# A plain "waiting: ..." answer is checked again after this long: Amazon's action lists
# ("is Request a Review offered yet?") change from one day to the next.
RECHECK_WAITING = timedelta(days=1)

# How a channel's reason starts when Amazon never offered Request a Review for an order
# before its window closed: the "Needs your attention" list (core.attention) finds those
# by it, so the channel writing it and the list reading it share one text.
NEVER_OFFERED = "skipped: Amazon never offered Request a Review"


class Waiting(str):
    """A "waiting: ..." reason that says when to look again.

    Vetoes, ``prepare`` and ``preflight`` answer with reason strings; a plain
    ``"waiting: ..."`` is re-checked after ``RECHECK_WAITING`` (a day).
    A transient cause (a throttled read, Amazon unreachable) should be re-checked within
    minutes instead: ``Waiting("waiting: Amazon throttled the read", recheck_after=120)``.
    It is still a ``str``, so every caller that only reads the text keeps working.
    """

    recheck_after: float | None

    def __new__(cls, text: str, recheck_after: float | None = None) -> Waiting:
        if not text.startswith("waiting:"):
            raise ValueError(f"a Waiting reason starts with 'waiting:', not {text[:20]!r}")
        made = super().__new__(cls, text)
        made.recheck_after = recheck_after
        return made


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message. ``kind``: instructions, invoice or warranty."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)
    kind: str = "instructions"


@dataclass(frozen=True)
class Rendered:
    """A message as it will leave: subject (email only), plain text, optional HTML."""

    subject: str
    text: str
    html: str = ""
    language: str = ""
    attachments: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Sender:
    """A channel that delivers messages.

    ``preflight(engine, message, order)`` -> ``None`` or a reason not to send now.
    ``send(engine, message, order, rendered)`` -> ``SendResult``.
    ``reconcile(engine, message, order)`` -> ``"sent"``, ``"not_sent"`` or ``None``
    (unknown) for a message left in doubt.
    ``prepare(engine, message, order)`` runs before the text is composed (e.g. to learn
    the buyer's language from the channel); it returns ``None`` or a reason not to send.
    ``review_request``: messages from this sender count as the order's review request.
    ``needs_body``: False for channels whose text Amazon writes (Request a Review).
    ``dry_run``: nothing leaves the machine; shown as such everywhere.
    ``send_test(engine, account, rendered, address)`` -> ``SendResult`` (optional): deliver
    a rendered template to the seller's *own* test address (``SellerAccount.test_address``)
    as a preview, never to a buyer. Nothing is recorded as a message; the caller audits it.
    A ``skipped`` result says why nothing left (e.g. the channel is not configured).
    """

    name: str
    label: str
    send: Callable[..., SendResult]
    preflight: Callable[..., str | None] | None = None
    reconcile: Callable[..., str | None] | None = None
    prepare: Callable[..., str | None] | None = None
    review_request: bool = False
    needs_body: bool = True
    dry_run: bool = False
    max_length: int | None = None
    send_test: Callable[..., SendResult] | None = None


@dataclass(frozen=True)
class OrderSource:
    """Where orders come from (Amazon's API, a report file, demo data).

    ``fetch(engine, account, since, progress)`` yields ``OrderData``; ``progress`` is a
    callable taking (done, total_or_None, text). ``import_file(engine, account, path)``
    is optional and yields ``OrderData`` parsed from a file.
    """

    name: str
    label: str
    fetch: Callable[..., Iterable[OrderData]] | None = None
    import_file: Callable[..., Iterable[OrderData]] | None = None
    test_connection: Callable[..., str | None] | None = None
    # ``check_credentials(engine, region, marketplaces, credentials)`` -> list of
    # ``CredentialCheck``: credentials checked as a seller types them, before saving.
    check_credentials: Callable[..., list] | None = None


@dataclass(frozen=True)
class CredentialCheck:
    """One finding about credentials being entered: ``field`` is the form field it is
    about ("" for the whole set), ``ok`` whether it passed, ``text`` what was found and,
    when it failed, what to do."""

    field: str
    label: str
    ok: bool
    text: str


@dataclass(frozen=True)
class Job:
    """A periodic background job; ``run(engine)`` is called every ``every_seconds``."""

    name: str
    every_seconds: int
    run: Callable[..., Any]


@dataclass(frozen=True)
class SettingField:
    """One setting on a plugin's settings page, and what a value must be.

    Every value, typed on the Plugins page, stored by a plugin or read from
    ``[plugin_settings.<plugin>]`` in config.toml, goes through one check
    (``core.setting_checks.setting_problem``): the ``kind`` (an ``int`` within
    ``minimum``..``maximum``, a ``bool``, one of ``choices``), then ``check(value)``
    (``None`` or what is wrong), then the page's ``validate``.

    ``guards_secrets``: the value decides where an account's secrets are sent (an API
    endpoint, a token URL). Changing it in the web admin makes the accounts' secrets
    unusable until they are entered again (``core.credentials.secrets_binding_problem``);
    a value ``check`` refuses is accepted only from config.toml, and only when the
    plugin's table there sets ``development_endpoints = true`` (a local test server).
    """

    key: str
    label: str
    kind: str = "text"  # text, int, bool, choice, textarea, password
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    check: Callable[[Any], str | None] | None = None
    guards_secrets: bool = False


@dataclass(frozen=True)
class SettingsPage:
    """A plugin's settings form, rendered by the web admin per marketplace.

    ``validate(key, value, marketplace)`` (optional) returns ``None`` or the reason a value
    is refused; ``Engine.set_plugin_setting`` raises ``SettingRefused`` with it, and a
    refused ``enabled = True`` also keeps the plugin off for that marketplace.
    """

    plugin: str
    title: str
    fields: tuple[SettingField, ...]
    description: str = ""
    validate: Callable[[str, Any, str], str | None] | None = None


class SettingRefused(ValueError):
    """A plugin refused a setting value; the text says why (shown to the seller)."""


class RetryLater(Exception):  # noqa: N818 - read as an instruction: "retry later"
    """Raised by a plugin while a message is composed (``message_attachments``,
    ``template_context``) when something the message needs is not there *yet*, such as
    an invoice the seller's system has not produced.

    The dispatcher records the message as ``retry`` with ``reason`` plus the next check
    time, counts the attempt and tries again after ``retry_after`` seconds (default one
    day); when ``[dispatch] max_attempts`` is used up it ends ``failed`` with the reason.
    ``reason`` should start with ``"waiting: "``.
    """

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Preset:
    """A ready-made campaign a seller can create in one click and then edit.

    ``steps`` are dicts with the same keys as the campaign editor's step form.
    """

    name: str
    label: str
    marketplace: str
    fulfillment: str
    steps: tuple[Mapping[str, Any], ...]
    description: str = ""


@dataclass(frozen=True)
class DeliveryWindow:
    earliest: datetime | None
    latest: datetime | None
    confirmed: bool
    source: str = ""


@dataclass(frozen=True)
class TimeWindow:
    opens: datetime
    closes: datetime
    source: str = ""


@dataclass(frozen=True)
class ItemData:
    sku: str
    asin: str
    title: str
    quantity: int = 1
    price: float = 0.0


@dataclass(frozen=True)
class OrderData:
    """An order as an order source reports it, before it is stored.

    Times are timezone-aware UTC. ``events`` maps event kind -> when it happened; the
    store records each kind once per order, so a source may report it repeatedly.
    """

    order_id: str
    marketplace: str
    fulfillment: str  # "FBA" or "FBM"
    status: str
    purchased_at: datetime
    last_updated_at: datetime
    items: tuple[ItemData, ...] = ()
    total: float = 0.0
    currency: str = ""
    buyer_key: str = ""
    buyer_email: str = ""
    buyer_locale: str = ""
    ship_country: str = ""
    is_business: bool = False
    is_prime: bool = False
    shipped_late: bool = False
    shipped_at: datetime | None = None
    earliest_delivery: datetime | None = None
    latest_delivery: datetime | None = None
    delivery_confirmed: bool = False
    events: Mapping[str, datetime] = field(default_factory=dict)


# -- Amazon's rules and shared facts that core and plugins both apply -------------------
# Plugins import them from here (their public API) instead of restating them.

# Request a Review: "from 5 days after the order's earliest delivery date to 30 days
# after its latest delivery date" (Solicitations API; docs/amazon-rules.md §2.1).
REVIEW_OPENS_AFTER = timedelta(days=5)
REVIEW_CLOSES_AFTER = timedelta(days=30)

# File types Amazon's Buyer-Seller Messaging relay accepts, by extension exactly as Amazon
# lists them (docs/amazon-rules.md §2.3: no .jpeg, no .tif); the Messaging API's Uploads flow takes
# the same documents. The file library checks uploads and the email plugin sends with it.
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".png": "image/png",
    ".tiff": "image/tiff",
}
# The first bytes each binary type must start with: a renamed file is refused at upload,
# not discovered by the buyer. Text files have no signature.
ATTACHMENT_SIGNATURES = {
    ".pdf": (b"%PDF-",),
    ".doc": (b"\xd0\xcf\x11\xe0",),
    ".docx": (b"PK\x03\x04",),
    ".jpg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".bmp": (b"BM",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".tiff": (b"II*\x00", b"MM\x00*"),
}
# Amazon's relay refuses messages whose attachments exceed 10 MB in total; one file
# above that could never be sent on any channel.
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024

# The languages the shipped template library is written in.
LIBRARY_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "it", "es", "ja")


def parse_codes(value) -> set[str]:
    """SKUs, ASINs or marketplace codes from a list or a comma/space separated text
    (a form field or a rule parameter), upper-cased."""
    if value is None:
        return set()
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return {str(v).strip().upper() for v in value if str(v).strip()}


def is_review_request(engine, step) -> bool:
    """Whether ``step`` asks for a review: through a review-request channel (Amazon's
    button) or as a free-text request. One per order across every channel (§2.1)."""
    sender = engine.senders.get(step.sender)
    return bool(sender and sender.review_request) or step.message_type == "review_request"


# Days a parcel takes from the warehouse to the buyer, per marketplace: FBA deliveries are
# estimated as ship date + transit (Amazon gives FBA orders no delivery date, see
# docs/amazon-rules.md §4), and an order without any delivery date is bounded the same
# way wherever it came from. The Amazon plugin's "transit_days" setting overrides it.
TRANSIT_DAYS = {
    "US": 3,
    "CA": 4,
    "MX": 5,
    "BR": 6,
    "UK": 2,
    "DE": 2,
    "FR": 3,
    "IT": 3,
    "ES": 3,
    "NL": 3,
    "SE": 3,
    "PL": 3,
    "BE": 3,
    "IE": 3,
    "TR": 4,
    "AE": 3,
    "SA": 4,
    "IN": 4,
    "JP": 2,
    "AU": 5,
    "SG": 3,
}
DEFAULT_TRANSIT_DAYS = 4


def transit_days(marketplace: str) -> int:
    """Days from shipping to delivery in ``marketplace`` (an estimate)."""
    return TRANSIT_DAYS.get(marketplace, DEFAULT_TRANSIT_DAYS)
