"""Followup's core: data, scheduling, delivery guarantees, and the plugin contract.

Plugins import what they need from here and nothing else from the core:

    from core import hookimpl, Trigger, Rule, Sender, SendResult, OrderData, ItemData
"""

from .buckets import MemoryBuckets, shared_buckets
from .contracts import (
    ALL_STATES,
    EVENT_KINDS,
    Attachment,
    DeliveryWindow,
    ItemData,
    Job,
    Marketplace,
    OrderData,
    OrderSource,
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
)
from .crypto import CredentialError
from .hookspecs import for_steps, hookimpl
from .order_items import order_items

__all__ = [
    "ALL_STATES",
    "CredentialError",
    "EVENT_KINDS",
    "Attachment",
    "DeliveryWindow",
    "ItemData",
    "Job",
    "Marketplace",
    "MemoryBuckets",
    "OrderData",
    "OrderSource",
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
    "shared_buckets",
    "hookimpl",
    "order_items",
]
