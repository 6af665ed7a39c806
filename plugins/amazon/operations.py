"""Two SP-API operations declared exactly as Amazon's models define them.

python-amazon-sp-api (2.1.x) sends both with a JSON body that Amazon's models do not
define, and double-encodes one query parameter:

* ``createProductReviewAndSellerFeedbackSolicitation`` and
  ``createUploadDestinationForResource`` take no body; the marketplace goes in the
  ``marketplaceIds`` query parameter. The library adds ``{"marketplaceIds": [...],
  "MarketplaceIds": [...]}`` as a body to every POST, which a strict server may refuse
  (415) or read differently.
* ``contentMD5`` is the base64 MD5 of the upload, percent-encoded once on the wire. The
  library percent-encodes it itself and its HTTP client encodes it again (``%253D``).

Both are declared here the way the library declares its own operations (``sp_endpoint``
and ``Client._request`` with ``add_marketplace=False``, as its Data Kiosk and Seller
Wallet operations do), so nothing of the library is patched. docs/amazon-rules.md §6.
"""

from __future__ import annotations

import base64
import hashlib

from sp_api.api import Solicitations, Upload
from sp_api.base import ApiResponse, fill_query_params, sp_endpoint


class ModelSolicitations(Solicitations):
    """Solicitations whose Request a Review POST carries no body."""

    @sp_endpoint(
        "/solicitations/v1/orders/{}/solicitations/productReviewAndSellerFeedback",
        method="POST",
    )
    def create_product_review_and_seller_feedback_solicitation(
        self,
        amazonOrderId,
        **kwargs,  # noqa: N803 - Amazon's parameter name
    ) -> ApiResponse:
        """POST with ``marketplaceIds`` in the query and no body (solicitations model)."""
        return self._request(
            fill_query_params(kwargs.pop("path"), amazonOrderId),
            params=kwargs,
            add_marketplace=False,
        )


def content_md5(data: bytes) -> str:
    """The base64 MD5 digest Amazon's Uploads API and S3 expect (RFC 1864)."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


class ModelUpload(Upload):
    """Uploads whose destination POST carries no body and ``contentMD5`` encoded once."""

    @sp_endpoint("/uploads/2020-11-01/uploadDestinations/{}", method="POST")
    def create_upload_destination_for_resource(
        self, resource: str, data: bytes, content_type: str, **kwargs
    ) -> ApiResponse:
        """POST with marketplace, MD5 and content type in the query and no body; the
        HTTP client percent-encodes the base64 digest exactly once."""
        kwargs.update(
            {
                "marketplaceIds": [self.marketplace_id],
                "contentMD5": content_md5(data),
                "contentType": content_type,
            }
        )
        return self._request(
            kwargs.pop("path").format(resource), params=kwargs, add_marketplace=False
        )
