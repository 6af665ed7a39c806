"""Global settings a seller may change in the browser, without a restart.

Precedence, highest first: the value saved on the Settings page (stored in the
database, audited), then ``config.toml``, then the built-in default. "Use config.toml"
on the page removes the saved value. Everything an installation needs before it can
read its database (the database itself, the queue, secret keys, host and port, the
data folder, logging) stays in ``config.toml`` only.

The web admin and the worker are separate processes: each reads the saved value from
the database, kept at most ``TTL_SECONDS`` in memory, so a change reaches both within
seconds and nobody restarts anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .db import database
from .models import AuditLog, PluginSetting

STORE = "config:"  # PluginSetting.plugin = "config:<section>", marketplace ""
TTL_SECONDS = 2.0


class SettingError(ValueError):
    """A value the setting cannot take; the message names the setting and what to fix."""


@dataclass(frozen=True)
class Editable:
    section: str
    key: str
    label: str
    kind: str  # "bool" or "timezone"
    help: str

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


def _timezone(raw: str) -> str:
    value = raw.strip()
    try:
        if not value:
            raise ZoneInfoNotFoundError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingError(
            f"Time zone: {raw!r} is not a time zone name; use one like Europe/Berlin, "
            "America/New_York or UTC."
        ) from exc
    return value


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "on", "1", "yes"):
        return True
    if value in ("false", "off", "0", "no", ""):
        return False
    raise SettingError(f"Test mode: {raw!r} is neither on nor off.")


EDITABLE = (
    Editable(
        "app",
        "timezone",
        "Time zone",
        "timezone",
        "the seller's own time zone: every date in the admin is shown in it",
    ),
    Editable(
        "app",
        "test_mode",
        "Test mode",
        "bool",
        "on: every campaign sends through the dry-run sender only; nothing reaches a buyer",
    ),
)
BY_NAME = {e.name: e for e in EDITABLE}
_PARSE: dict[str, Callable[[str], Any]] = {"timezone": _timezone, "bool": _bool}


def _cache(engine) -> dict[str, tuple[float, Any]]:
    """This engine's remembered values (one engine per process, a fresh one per test)."""
    return engine.__dict__.setdefault("_runtime_settings", {})


def _saved(section: str, key: str):
    row = PluginSetting.get_or_none(
        (PluginSetting.plugin == STORE + section)
        & (PluginSetting.marketplace == "")
        & (PluginSetting.key == key)
    )
    return (True, row.value) if row is not None else (False, None)


def get(engine, section: str, key: str) -> Any:
    """The setting in force: saved in the browser, else config.toml, else the default."""
    cache_key = f"{section}.{key}"
    hit = _cache(engine).get(cache_key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < TTL_SECONDS:
        return hit[1]
    found, value = _saved(section, key)
    if not found:
        value = engine.settings.get(section, key)
    _cache(engine)[cache_key] = (now, value)
    return value


def source(engine, section: str, key: str) -> str:
    """Where the value in force comes from: "browser" or "config.toml"."""
    return "browser" if _saved(section, key)[0] else "config.toml"


def in_test_mode(engine) -> bool:
    """``[app] test_mode`` in force: every campaign sends through the dry-run sender."""
    return bool(get(engine, "app", "test_mode"))


def timezone(engine) -> str:
    """``[app] timezone`` in force: the zone the admin shows dates in."""
    return get(engine, "app", "timezone")


def parse(name: str, raw: str) -> Any:
    """``raw`` (form text) as the setting ``name``'s value; ``SettingError`` if it is not one."""
    spec = BY_NAME.get(name)
    if spec is None:
        raise SettingError(f"{name!r} cannot be changed in the browser; it is set in config.toml.")
    return _PARSE[spec.kind](raw)


def save(engine, name: str, raw: str, *, by: str = "") -> tuple[Any, Any]:
    """Validate and store ``raw`` for the setting ``name`` ("app.timezone"); audited.
    Returns (old value, new value). Raises ``SettingError`` naming what to fix."""
    value = parse(name, raw)
    spec = BY_NAME[name]
    old = get(engine, spec.section, spec.key)
    with database.atomic():
        PluginSetting.insert(
            plugin=STORE + spec.section, marketplace="", key=spec.key, value=value
        ).on_conflict(
            conflict_target=[PluginSetting.plugin, PluginSetting.marketplace, PluginSetting.key],
            update={PluginSetting.value: value},
        ).execute()
        AuditLog.create(user=by, action="setting_changed", target=name, detail=f"{old} -> {value}")
    _cache(engine).pop(name, None)
    return old, value


def reset(engine, name: str, *, by: str = "") -> Any:
    """Forget the browser's value: config.toml's applies again. Returns the value now."""
    spec = BY_NAME[name]
    with database.atomic():
        PluginSetting.delete().where(
            (PluginSetting.plugin == STORE + spec.section)
            & (PluginSetting.marketplace == "")
            & (PluginSetting.key == spec.key)
        ).execute()
        AuditLog.create(user=by, action="setting_reset", target=name, detail="config.toml applies")
    _cache(engine).pop(name, None)
    return get(engine, spec.section, spec.key)
