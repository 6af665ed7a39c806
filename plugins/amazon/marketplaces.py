"""Amazon's marketplaces: id, region endpoint, languages, time zone (docs/amazon-rules.md §5).

Where a marketplace spans several time zones (US, CA, BR, AU, MX) the time zone is the
one most buyers live in; a seller can move send windows per step.
"""

from __future__ import annotations

from core import Marketplace

EU_VAT = {"UK", "DE", "FR", "IT", "ES", "NL", "SE", "PL", "BE", "IE"}

# code, marketplace id, region, languages, time zone, country, currency, name, sales channel
_TABLE = [
    ("US", "ATVPDKIKX0DER", "NA", ("en",), "America/New_York", "US", "USD", "Amazon.com"),
    ("CA", "A2EUQ1WTGCTBG2", "NA", ("en", "fr"), "America/Toronto", "CA", "CAD", "Amazon.ca"),
    ("MX", "A1AM78C64UM0Y8", "NA", ("es",), "America/Mexico_City", "MX", "MXN", "Amazon.com.mx"),
    ("BR", "A2Q3Y263D00KWC", "NA", ("pt",), "America/Sao_Paulo", "BR", "BRL", "Amazon.com.br"),
    ("UK", "A1F83G8C2ARO7P", "EU", ("en",), "Europe/London", "GB", "GBP", "Amazon.co.uk"),
    ("DE", "A1PA6795UKMFR9", "EU", ("de",), "Europe/Berlin", "DE", "EUR", "Amazon.de"),
    ("FR", "A13V1IB3VIYZZH", "EU", ("fr",), "Europe/Paris", "FR", "EUR", "Amazon.fr"),
    ("IT", "APJ6JRA9NG5V4", "EU", ("it",), "Europe/Rome", "IT", "EUR", "Amazon.it"),
    ("ES", "A1RKKUPIHCS9HS", "EU", ("es",), "Europe/Madrid", "ES", "EUR", "Amazon.es"),
    ("NL", "A1805IZSGTT6HS", "EU", ("nl",), "Europe/Amsterdam", "NL", "EUR", "Amazon.nl"),
    ("SE", "A2NODRKZP88ZB9", "EU", ("sv",), "Europe/Stockholm", "SE", "SEK", "Amazon.se"),
    ("PL", "A1C3SOZRARQ6R3", "EU", ("pl",), "Europe/Warsaw", "PL", "PLN", "Amazon.pl"),
    ("BE", "AMEN7PMS3EDWL", "EU", ("fr", "nl"), "Europe/Brussels", "BE", "EUR", "Amazon.com.be"),
    ("TR", "A33AVAJ2PDY3EV", "EU", ("tr",), "Europe/Istanbul", "TR", "TRY", "Amazon.com.tr"),
    ("IE", "A28R8C7NBKEWEA", "EU", ("en",), "Europe/Dublin", "IE", "EUR", "Amazon.ie"),
    ("AE", "A2VIGQ35RCS4UG", "EU", ("ar", "en"), "Asia/Dubai", "AE", "AED", "Amazon.ae"),
    ("SA", "A17E79C6D8DWNP", "EU", ("ar",), "Asia/Riyadh", "SA", "SAR", "Amazon.sa"),
    ("IN", "A21TJRUUN4KGV", "EU", ("en",), "Asia/Kolkata", "IN", "INR", "Amazon.in"),
    ("JP", "A1VC38T7YXB528", "FE", ("ja",), "Asia/Tokyo", "JP", "JPY", "Amazon.co.jp"),
    ("AU", "A39IBJ37TRP1C6", "FE", ("en",), "Australia/Sydney", "AU", "AUD", "Amazon.com.au"),
    ("SG", "A19VAU5U5O7RUS", "FE", ("en",), "Asia/Singapore", "SG", "SGD", "Amazon.sg"),
]

MARKETPLACES = [
    Marketplace(
        code=code,
        marketplace_id=mid,
        region=region,
        languages=langs,
        timezone=tz,
        country=country,
        currency=currency,
        name=name,
        eu_vat=code in EU_VAT,
    )
    for code, mid, region, langs, tz, country, currency, name in _TABLE
]
BY_ID = {m.marketplace_id: m for m in MARKETPLACES}
BY_CODE = {m.code: m for m in MARKETPLACES}
# "Amazon.de" as written in the report's sales-channel column -> "DE"
BY_SALES_CHANNEL = {m.name.lower(): m for m in MARKETPLACES}
