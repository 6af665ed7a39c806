"""What the Plugins page stores: per-marketplace toggles, settings, sealed passwords.

The engine reads these rows (``Engine.plugin_settings``, ``Engine.stored_toggles``);
this module is how the web admin writes and lists them.
"""

from __future__ import annotations

from .crypto import decrypt_json, encrypt_json
from .models import AuditLog, PluginSetting

SECRET_MARK = "fernet"  # a label shown for stored secrets, not a secret  # nosec B105


def seal_secret(engine, value: str) -> dict:
    """A plugin-setting secret (a password) as stored: Fernet-encrypted, never plain text.

    ``Engine.plugin_setting`` hands plugins the decrypted text through ``open_secret``.
    """
    return {SECRET_MARK: encrypt_json(engine.settings, {"v": value}).decode()}


def is_sealed(value) -> bool:
    """Whether a stored plugin-setting value is a secret sealed by ``seal_secret``."""
    return isinstance(value, dict) and set(value) == {SECRET_MARK}


def open_secret(engine, value):
    """The plain value of a sealed secret; any other value is returned unchanged."""
    if not is_sealed(value):
        return value
    return decrypt_json(engine.settings, value[SECRET_MARK].encode()).get("v", "")


def set_plugin_enabled(
    engine, plugin: str, marketplace: str, enabled: bool, *, by: str = ""
) -> None:
    """Turn ``plugin`` on or off for one marketplace (the Plugins page's toggle).

    Stored as the ``enabled`` plugin setting the engine reads; a restriction in
    config.toml (``[plugins.marketplaces]``) still wins over this toggle.
    """
    if marketplace not in engine.marketplaces:
        raise ValueError(f"unknown marketplace {marketplace!r}")
    engine.set_plugin_setting(plugin, "enabled", bool(enabled), marketplace)  # invalidates
    AuditLog.create(
        user=by,
        action="plugin_enabled" if enabled else "plugin_disabled",
        target=f"{plugin}/{marketplace}",
    )


def plugin_toggles(engine) -> dict[tuple[str, str], bool]:
    """The toggles stored from the Plugins page: (plugin, marketplace) -> enabled."""
    return {key: on for key, on in engine.stored_toggles().items() if key[1]}


def stored_plugin_settings(plugin: str, marketplace: str = "") -> dict:
    """The values saved from a plugin's settings page for one scope ("" = every marketplace)."""
    rows = PluginSetting.select().where(
        (PluginSetting.plugin == plugin)
        & (PluginSetting.marketplace == marketplace)
        & (PluginSetting.key != "enabled")
    )
    return {r.key: r.value for r in rows}


def clear_plugin_setting(plugin: str, key: str, marketplace: str = "") -> None:
    """Remove a stored value so the scope falls back (marketplace -> global -> config)."""
    PluginSetting.delete().where(
        (PluginSetting.plugin == plugin)
        & (PluginSetting.marketplace == marketplace)
        & (PluginSetting.key == key)
    ).execute()
