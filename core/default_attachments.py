"""Built-in ``message_attachments``: the seller's stored manuals and warranty documents.

Which files go with which message is described in ``core.attachments``; this plugin only
answers the hook, so a seller who keeps files elsewhere can replace it.
"""

from __future__ import annotations

from .attachments import as_attachment, files_for
from .compose import buyer_language
from .hookspecs import hookimpl
from .items import order_items


@hookimpl
def message_attachments(engine, order, message, step):
    """The campaign's and the step's files that fit the order's SKUs and buyer language."""
    if step is None:
        return None
    skus = {item.sku for item in order_items(order)}
    language = message.language if message is not None else ""
    if not language:  # a preview, or a sender that has not learned the locale yet
        language = buyer_language(engine, order)
    return [as_attachment(f) for f in files_for(step, skus, language)] or None
