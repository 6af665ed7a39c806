"""The project's fake SP-API: a real HTTP server implementing the operations Followup
uses (LWA, Orders v2026-01-01 and v0, Solicitations, Messaging, Uploads, Reports) with
Amazon's rules, rate limits and injectable faults. See ``server.py`` for the knobs and
``python -m tests.fake_spapi --help`` to run it as a dev tool.
"""

from .messaging import REVIEW
from .server import ROUTES, FakeSPAPI
from .state import Call

__all__ = ["REVIEW", "ROUTES", "Call", "FakeSPAPI"]
