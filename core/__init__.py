"""Followup's core: data, scheduling, delivery guarantees, and the plugin contract.

This package's namespace is the whole plugin API: plugins import what they need from
here and nothing else from the core (``tests/test_meta.py`` holds them to it), e.g.

    from core import hookimpl, Trigger, Rule, Sender, SendResult, OrderData, ItemData

What is here, and where each part is documented (docs/plugins.md walks through it):

* the hook markers and the value types plugins return (``core.contracts``);
* Amazon's fixed facts that plugins share (review window, attachment limits, codes);
* the linter's types for ``register_content_checks`` and the SQL context for
  ``Rule.sql``;
* the clock (UTC, patchable in tests);
* the operations a plugin may perform on stored data (stop an order's messages, add an
  opt-out, record a buyer message, mark an account, read its credentials), and the
  models plugins read. Plugins change state only through the operations;
* read-only helpers: an order's whole trace (``trace_order``) and the seller-account
  checks (``validate_account``).
"""

import importlib

from .clock import to_naive_utc, utcnow
from .compliance.base import ContentCheck, Finding, LintInput
from .contracts import (
    ALL_STATES,
    ATTACHMENT_MAX_BYTES,
    ATTACHMENT_SIGNATURES,
    ATTACHMENT_TYPES,
    EVENT_KINDS,
    LIBRARY_LANGUAGES,
    NEVER_OFFERED,
    RECHECK_WAITING,
    REVIEW_CLOSES_AFTER,
    REVIEW_OPENS_AFTER,
    Attachment,
    CredentialCheck,
    DeliveryWindow,
    ItemData,
    Job,
    Marketplace,
    OrderData,
    OrderSource,
    ParamField,
    Params,
    Preset,
    Rendered,
    RetryLater,
    Rule,
    Sender,
    SendResult,
    SettingField,
    SettingRefused,
    SettingsPage,
    TimeWindow,
    Trigger,
    Waiting,
    is_review_request,
    parse_codes,
    transit_days,
)
from .crypto import CredentialError
from .hookspecs import for_steps, hookimpl

# Loaded on first use (PEP 562): these pull in the database layer, the dispatcher and
# the planner, which themselves import ``core.contracts``; importing them here eagerly
# would make ``import core`` circular and slow for every plugin at load time.
_LAZY = {
    "find_order": "orders",
    "stop_order_messages": "blocklist",
    "add_opt_out": "blocklist",
    "account_credentials": "credentials",
    "sealed_credentials": "credentials",
    "order_items": "items",
    "MemoryBuckets": "buckets",
    "shared_buckets": "buckets",
    "mark_account": "accounts",
    "ACCOUNT_PROBLEM": "accounts",
    "record_buyer_message": "inbox",
    "SqlContext": "planning_bulk",
    "trace_order": "order_trace",
    "OrderTrace": "order_trace",
    "validate_account": "accounts",
    "AccountValues": "accounts",
    "Order": "models",
    "OrderItem": "models",
    "OrderEvent": "models",
    "Message": "models",
    "Step": "models",
    "Template": "models",
    "SellerAccount": "models",
    "SellerFeedback": "models",
    "FeedbackRead": "models",
    # Amazon's seller-feedback star scale (docs/amazon-rules.md §8): one copy for all.
    "NEGATIVE_MAX": "feedback",
    "NEUTRAL": "feedback",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "ALL_STATES",
    "CredentialError",
    "EVENT_KINDS",
    "Attachment",
    "CredentialCheck",
    "DeliveryWindow",
    "ItemData",
    "Job",
    "Marketplace",
    "OrderData",
    "OrderSource",
    "ParamField",
    "Params",
    "Preset",
    "Rendered",
    "RetryLater",
    "Rule",
    "Sender",
    "SendResult",
    "SettingField",
    "SettingRefused",
    "SettingsPage",
    "TimeWindow",
    "Trigger",
    "Waiting",
    "for_steps",
    "hookimpl",
    "ATTACHMENT_MAX_BYTES",
    "ATTACHMENT_SIGNATURES",
    "ATTACHMENT_TYPES",
    "LIBRARY_LANGUAGES",
    "NEVER_OFFERED",
    "RECHECK_WAITING",
    "REVIEW_CLOSES_AFTER",
    "REVIEW_OPENS_AFTER",
    "ContentCheck",
    "Finding",
    "LintInput",
    "is_review_request",
    "parse_codes",
    "transit_days",
    "to_naive_utc",
    "utcnow",
    *_LAZY,
]
