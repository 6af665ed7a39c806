"""Helpers for tests that drive the Amazon plugin against the fake over HTTP."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from peewee import JOIN

from core.contracts import FINAL_STATES, IN_DOUBT, SENDING, SENT, WAITING_STATES
from core.credentials import save_account_credentials
from core.models import (
    Campaign,
    Message,
    Order,
    SellerAccount,
    Step,
    Template,
    TemplateVariant,
    TemplateVersion,
)
from tests.support.worker import worker_config, worker_log

CREDS = {
    "refresh_token": "good-refresh-token",
    "lwa_app_id": "amzn1.app",
    "lwa_client_secret": "s3cret-lwa",
}


def amazon_settings(fake, **extra) -> dict:
    """``plugin_settings`` pointing the plugin's library at the fake."""
    values = {
        "endpoint": fake.url,
        "lwa_url": fake.url + "/auth/o2/token",
        "timeout": 1,
        # A loopback http server is not Amazon: allowed from config.toml with this flag only.
        "development_endpoints": True,
    }
    values.update(extra)
    return {"amazon": values}


def connect(engine, *, marketplaces=("DE",), region="EU", creds=None, name="EU seller"):
    """A seller account with encrypted credentials."""
    account = SellerAccount.create(
        name=name, source="amazon", region=region, marketplaces=list(marketplaces)
    )
    save_account_credentials(engine, account, dict(creds or CREDS))
    return account


def connected(make_engine, fake, **settings) -> tuple:
    """(an engine whose Amazon plugin talks to ``fake``, a seller account connected to
    it); ``settings``: more of the plugin's settings (``amazon_settings``)."""
    engine = make_engine(plugin_settings=amazon_settings(fake, **settings))
    return engine, connect(engine)


def sync_and_plan(engine, account):
    """Sync ``account`` from the fake (no errors) and plan what changed, as a worker does."""
    from core.planning import plan_orders
    from core.sync import sync_account

    result = sync_account(engine, account.id)
    assert not result.errors, result.errors
    plan_orders(engine, result.changed_ids)
    return result


def review_step(**kw) -> Step:
    campaign = Campaign.create(name="Review", status="active")
    return Step.create(
        campaign=campaign,
        trigger="delivered",
        sender="amazon_review",
        window_start_hour=0,
        window_end_hour=24,
        **kw,
    )


def messaging_step(message_type: str, variants: dict[str, str], *, trigger="delivered") -> Step:
    """An active campaign with one Messaging API step; ``variants``: language -> body."""
    template = Template.create(name=f"T {message_type}", channel="messaging", message_type="")
    version = TemplateVersion.create(template=template, number=1)
    for language, body in variants.items():
        TemplateVariant.create(version=version, language=language, body=body)
    campaign = Campaign.create(name=f"C {message_type}", status="active")
    return Step.create(
        campaign=campaign,
        trigger=trigger,
        sender="amazon_messaging",
        message_type=message_type,
        template=template,
        window_start_hour=0,
        window_end_hour=24,
    )


# -- several sellers, attachments, and the fake's record as the judge of "never twice" --

REVIEW_POST = "createProductReviewAndSellerFeedbackSolicitation"
# A minimal PDF: Amazon takes product instructions as PDF attachments.
MANUAL_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def sellers(engine, fake, count: int, *, marketplaces=("DE",)) -> list:
    """``count`` seller accounts, each with its own refresh token: with
    ``fake.limits_per_seller`` each has its own token buckets, as on Amazon."""
    accounts = []
    for n in range(count):
        token = f"refresh-token-seller-{n}"
        fake.refresh_tokens.add(token)
        creds = dict(CREDS, refresh_token=token)
        accounts.append(connect(engine, marketplaces=marketplaces, creds=creds, name=f"Seller {n}"))
    return accounts


def attach_manual(step: Step, filename: str = "manual.pdf", data: bytes = MANUAL_PDF):
    """The seller's stored manual for ``step`` (the file library's path to a message)."""
    from core.attachments import Upload, store

    return store(
        Upload(name="Manual", kind="instructions", filename=filename, data=data, step_id=step.id)
    )


CUSTOM_POST = "confirmCustomizationDetails"  # a Messaging type that takes attachments


def review_and_customization(engine, fake, ids: list[str], custom_sku: str, count: int):
    """Request a Review for every order in ``ids`` and confirmCustomizationDetails, with
    the step's stored manual, for those with ``custom_sku``: the orders (already on the
    fake) synced once, spread round-robin over ``count`` sellers and planned. Returns
    the sellers."""
    from core.clock import utcnow
    from core.planning import plan_orders
    from core.sync import sync_account

    accounts = sellers(engine, fake, count)
    review_step()
    custom = messaging_step(
        CUSTOM_POST,
        {"de": "Bitte prüfen Sie die Gravur für Bestellung {{ order_id }} (Anleitung anbei)."},
    )
    custom.rules = [{"rule": "sku_include", "params": {"values": [custom_sku]}}]
    custom.save()
    attach_manual(custom)
    synced = sync_account(engine, accounts[0].id)
    assert not synced.errors, synced.errors
    # The fake does not partition orders by seller: one sync, then each seller its share.
    for n, account in enumerate(accounts):
        Order.update(account=account.id).where(Order.order_id.in_(ids[n::count])).execute()
    # Synced now: a worker's minute tick must not sync another seller (it would import
    # every order of the fake a second time).
    SellerAccount.update(last_sync_at=utcnow()).execute()
    plan_orders(engine, synced.changed_ids)
    customized = {oid for oid in ids if fake.orders[oid]["items"][0]["sku"] == custom_sku}
    planned = {(m.order.order_id, m.sender) for m in Message.select(Message, Order).join(Order)}
    expected = {(oid, "amazon_review") for oid in ids}
    expected |= {(oid, "amazon_messaging") for oid in customized}
    assert planned == expected, (len(planned), len(expected))
    return accounts


def fake_operation(message_type: str) -> tuple[str, str]:
    """(the fake's path segment, Amazon's operationId) of a Messaging step type."""
    from .messaging import MESSAGE_KINDS

    wanted = {"invoice": "sendinvoice", "warranty": "createwarranty"}.get(
        message_type, message_type.lower()
    )
    for kind, (operation, _, _) in MESSAGE_KINDS.items():
        if operation.lower() == wanted:
            return kind, operation
    raise KeyError(message_type)


@dataclass
class Judgement:
    """What the fake received compared with what Followup recorded.

    ``posts``: (order id, operation) -> POSTs the fake received, accepted or refused
    (a resend shows up here even when Amazon answers it 403); ``accepted``: POSTs the
    fake acted on; ``duplicates``: (order id, operation, POSTs) received more than once;
    ``overwritten``: messages Amazon accepted but recorded as anything but sent or in
    doubt; ``phantom``: messages recorded as sent that Amazon never accepted; ``lost``:
    messages still sending, in no known state, or without a reason.
    """

    posts: Counter = field(default_factory=Counter)
    accepted: int = 0
    duplicates: list = field(default_factory=list)
    overwritten: list = field(default_factory=list)
    phantom: list = field(default_factory=list)
    lost: list = field(default_factory=list)
    states: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        return (
            f"{sum(self.posts.values())} POSTs received, {self.accepted} accepted, "
            f"{len(self.duplicates)} duplicates, {len(self.lost)} lost, "
            f"{len(self.overwritten)} sent overwritten, {len(self.phantom)} phantom sent; "
            f"states {dict(self.states)}"
        )


def judge(fake, message_ids=None) -> Judgement:
    """Compare the fake's record with every message (or those in ``message_ids``)."""
    query = (
        Message.select(Message, Order.order_id, Step.message_type)
        .join(Order)
        .switch(Message)
        .join(Step, JOIN.LEFT_OUTER)
    )
    if message_ids is not None:
        query = query.where(Message.id.in_(list(message_ids)))
    verdict = Judgement()
    with fake.lock:
        for call in fake.calls:
            if (
                call.method == "POST"
                and call.order_id
                and call.path.startswith(("/solicitations/", "/messaging/"))
            ):
                verdict.posts[(call.order_id, call.operation)] += 1
        solicited = Counter(fake.solicited)
        delivered = {oid: Counter(kind for kind, _ in sent) for oid, sent in fake.messages.items()}
    verdict.accepted = sum(solicited.values()) + sum(sum(c.values()) for c in delivered.values())
    verdict.duplicates = sorted((*key, n) for key, n in verdict.posts.items() if n > 1)
    for m in query:
        oid = m.order.order_id
        verdict.states[m.state] += 1
        if m.sender == "amazon_review":
            accepted = solicited[oid]
        else:
            accepted = delivered.get(oid, Counter())[fake_operation(m.step.message_type)[0]]
        if m.state == SENDING or m.state not in FINAL_STATES | WAITING_STATES:
            verdict.lost.append((m.id, oid, m.state, m.reason, m.error))
        elif not (m.reason or m.error):
            verdict.lost.append((m.id, oid, m.state, "no reason", ""))
        if accepted and m.state not in (SENT, IN_DOUBT):
            verdict.overwritten.append((m.id, oid, m.sender, m.state, m.reason, m.error))
        if m.state == SENT and not accepted:
            verdict.phantom.append((m.id, oid, m.sender, m.reason))
    return verdict


def two_thread_worker(tmp_path, fake, *, timeout: int, lease_seconds: int, batch_size: int):
    """(the config of a worker process sending through the Amazon plugin to ``fake`` with
    the shipped two huey threads, an engine on its migrated database)."""
    from core.config import load_settings
    from core.engine import Engine

    config = worker_config(
        tmp_path,
        ["amazon"],
        amazon_settings(fake, timeout=timeout),
        workers=None,  # the shipped default: two huey worker threads per process
        lease_seconds=lease_seconds,
        batch_size=batch_size,
    )
    engine = Engine(load_settings(config))
    engine.migrate()
    assert engine.settings.get("queue", "workers") == 2
    return config, engine


def assert_never_twice(verdict: Judgement, figures: str, config, calm, left, codes) -> None:
    """What must hold once the worker processes settled (``settle``'s ``calm``, ``left``
    and exit ``codes``), judged by the fake's record: nothing sent twice, overwritten,
    lost or recorded sent without Amazon accepting it; nothing left to do; clean exits."""
    twice, overwritten, lost = verdict.duplicates, verdict.overwritten, verdict.lost
    assert not twice, f"sent twice {twice[:20]}: {figures}"
    assert not overwritten, f"sent overwritten {overwritten[:20]}: {figures}"
    assert not lost, f"lost {lost[:20]}: {figures}"
    phantom = verdict.phantom
    assert not phantom, f"recorded sent, never accepted {phantom[:20]}: {figures}"
    assert calm, f"still to do {dict(left)}: {figures}\n{worker_log(config)}"
    assert codes == [0, 0], f"exit codes {codes}: {figures}\n{worker_log(config)}"
