"""Demo data: a synthetic seller with a few hundred realistic orders (US, DE, JP).

Registers the ``demo`` order source. Orders are generated deterministically relative to
today, so a fresh install always shows orders in every state: pending, shipped, delivered
(FBM confirmed, FBA estimated), cancelled, returned and refunded. Demo accounts send only
through the dry-run sender and everything they produce is labelled "demo".

The orders are placed in Amazon's US, DE and JP marketplaces, which the Amazon plugin
registers: without it every demo order would be rejected (unknown marketplace), so the
demo declares it needs that plugin and startup says so (``core.plugins``).
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

from core import ItemData, OrderData, OrderSource, hookimpl

PRODUCTS = {
    "US": [
        ("CB-PRO-12", "B0DEMO0US1", "Cast Iron Skillet 12 inch, Pre-Seasoned", 39.99),
        ("YM-6MM-PURP", "B0DEMO0US2", "Yoga Mat 6mm Non-Slip, Purple", 24.95),
        ("DESK-LAMP-LED", "B0DEMO0US3", "LED Desk Lamp with USB Charging Port", 32.50),
        ("STAND-DESK-XL", "B0DEMO0US4", "Electric Standing Desk 60x30, Walnut", 389.00),
        ("ENGR-CUTBOARD", "B0DEMO0US5", "Personalized Engraved Cutting Board", 45.00),
    ],
    "DE": [
        ("KAFFEE-MUEHLE", "B0DEMO0DE1", "Elektrische Kaffeemühle aus Edelstahl", 49.90),
        ("WANDER-RUCK-30", "B0DEMO0DE2", "Wanderrucksack 30 L, wasserdicht", 59.95),
        ("LED-STREIFEN-5M", "B0DEMO0DE3", "LED-Streifen 5 m mit Fernbedienung", 19.99),
        ("SOFA-3SITZ-GR", "B0DEMO0DE4", "3-Sitzer Sofa, Stoff grau", 649.00),
    ],
    "JP": [
        ("TEA-SET-KYUSU", "B0DEMO0JP1", "常滑焼 急須セット 湯呑み2客付き", 6800.0),
        ("BENTO-2TIER", "B0DEMO0JP2", "二段弁当箱 800ml 電子レンジ対応", 2480.0),
        ("HANKO-CUSTOM", "B0DEMO0JP3", "オーダーメイド印鑑 チタン製", 9800.0),
    ],
}
CURRENCY = {"US": "USD", "DE": "EUR", "JP": "JPY"}
LOCALE = {"US": "en_US", "DE": "de_DE", "JP": "ja_JP"}
PREFIX = {"US": (111, 112, 113, 114), "DE": (302, 303, 304, 305, 306), "JP": (249, 250, 503)}
SHARE = (("US", 0.5), ("DE", 0.3), ("JP", 0.2))
# Days from shipping to the buyer's door, for FBA estimates and FBM promises.
TRANSIT = {"US": (2, 5), "DE": (1, 3), "JP": (1, 3)}

# Checked at startup (core.plugins): the marketplaces above are the Amazon plugin's.
REQUIRES = ("amazon",)

DEMO_COUNT = 300
DEMO_DAYS = 60


def _order_id(rng: random.Random, mkt: str) -> str:
    return f"{rng.choice(PREFIX[mkt])}-{rng.randrange(10**6, 10**7)}-{rng.randrange(10**6, 10**7)}"


def generate(
    count: int = DEMO_COUNT, days: int = DEMO_DAYS, now: datetime | None = None, seed: int = 7
):
    """Yield ``count`` synthetic orders placed over the last ``days`` days."""
    rng = random.Random(seed)  # reproducible demo data, not a secret  # nosec B311
    now = now or datetime.now(UTC)
    buyers = [
        hashlib.sha256(f"demo-buyer-{i}".encode()).hexdigest()[:16] for i in range(count * 2 // 3)
    ]
    for _ in range(count):
        mkt = rng.choices([m for m, _ in SHARE], [w for _, w in SHARE])[0]
        fba = rng.random() < 0.6
        items = rng.sample(PRODUCTS[mkt], k=1 if rng.random() < 0.8 else 2)
        purchased = now - timedelta(days=rng.uniform(0.2, days))
        age = (now - purchased).days
        events = {"ordered": purchased}
        status = "Unshipped"
        shipped = earliest = latest = None
        confirmed = False
        if rng.random() < 0.04:
            status = "Canceled"
            events["cancelled"] = purchased + timedelta(hours=rng.uniform(1, 20))
        elif age >= 1:
            status = "Shipped"
            shipped = purchased + timedelta(hours=rng.uniform(8, 40))
            events["shipped"] = shipped
            low, high = TRANSIT[mkt]
            earliest = shipped + timedelta(days=low)
            latest = shipped + timedelta(days=high)
            if not fba and latest < now and rng.random() < 0.85:
                delivered = earliest + (latest - earliest) * rng.random()
                events["delivered"] = delivered
                confirmed = True
                earliest = latest = delivered
            if latest < now and rng.random() < 0.07:
                events["returned"] = latest + timedelta(days=rng.uniform(2, 12))
                if rng.random() < 0.8:
                    events["refunded"] = events["returned"] + timedelta(days=rng.uniform(1, 4))
            elif latest < now and rng.random() < 0.03:
                events["refunded"] = latest + timedelta(days=rng.uniform(1, 9))
        events = {k: v for k, v in events.items() if v <= now}
        updated = max(events.values())
        yield OrderData(
            order_id=_order_id(rng, mkt),
            marketplace=mkt,
            fulfillment="FBA" if fba else "FBM",
            status=status,
            purchased_at=purchased,
            last_updated_at=updated,
            items=tuple(
                ItemData(sku, asin, title, rng.choice((1, 1, 1, 2)), price)
                for sku, asin, title, price in items
            ),
            total=round(sum(p for *_, p in items), 2),
            currency=CURRENCY[mkt],
            buyer_key=rng.choice(buyers),
            buyer_locale=LOCALE[mkt] if rng.random() < 0.9 else "en_GB",
            ship_country=mkt if mkt != "UK" else "GB",
            is_business=rng.random() < 0.08,
            is_prime=fba and rng.random() < 0.7,
            shipped_late=(not fba) and rng.random() < 0.05,
            shipped_at=shipped,
            earliest_delivery=earliest,
            latest_delivery=latest,
            delivery_confirmed=confirmed,
            events=events,
        )


def _fetch(engine, account, since, progress):
    return generate()


@hookimpl
def register_order_sources(engine):
    return [OrderSource("demo", "Demo data (synthetic orders)", fetch=_fetch)]
