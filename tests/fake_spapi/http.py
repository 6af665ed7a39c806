"""Request/answer types shared by the fake's operation modules, and small helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Request:
    """One parsed request as the operation handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    operation: str = ""

    def json(self) -> Any:
        return json.loads(self.raw or b"{}")

    def qlist(self, name: str) -> list[str]:
        """A list parameter, whether sent repeated (httpx) or comma-separated (Amazon)."""
        values: list[str] = []
        for v in self.query.get(name, []):
            values.extend(x for x in v.split(",") if x)
        return values

    def qget(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    """What a handler answers: JSON ``body`` or ``raw`` bytes with ``content_type``."""

    status: int
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # An answer broken on purpose (an order's ``_fault``): not checked against the model.
    broken: bool = False

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body if self.body is not None else {}).encode()


def error(status: int, code: str, message: str) -> Reply:
    """Amazon's error shape: ``{"errors": [{"code", "message"}]}``."""
    return Reply(status, {"errors": [{"code": code, "message": message}]})


def iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    """ISO 8601 as Amazon accepts it; raises ValueError otherwise."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
