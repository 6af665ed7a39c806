"""The Amazon plugin: marketplaces, order import, and (issue 3) SP-API sync and senders.

Registers Amazon's marketplaces and the ``amazon`` order source. Today the source
imports Seller Central's All Orders report; live sync through the Selling Partner API
is added by the SP-API work and reported as unavailable until then.
"""

from __future__ import annotations

from core import OrderSource, hookimpl

from .marketplaces import MARKETPLACES
from .report import parse_file


def _import_file(engine, account, path):
    return parse_file(path)


@hookimpl
def register_marketplaces(engine):
    return list(MARKETPLACES)


@hookimpl
def register_order_sources(engine):
    return [OrderSource("amazon", "Amazon Seller Central", import_file=_import_file)]
