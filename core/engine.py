"""The engine: settings + database + plugin manager, and the only caller of ``pm.hook.*``.

Web views, CLI commands and huey tasks all hold an ``Engine`` and ask it for plugin
behaviour. Keeping every hook call here is what lets the engine filter plugins per
marketplace and turn a misbehaving plugin into a clear error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import cached_property
from typing import Any

import pluggy

from . import buckets, migrations
from .config import ConfigError, Settings
from .contracts import (
    DeliveryWindow,
    Job,
    Marketplace,
    OrderSource,
    Preset,
    Rule,
    Sender,
    SettingRefused,
    SettingsPage,
    TimeWindow,
    Trigger,
)
from .db import database, open_database
from .hookspecs import PER_MARKETPLACE_HOOKS
from .keyguard import refuse_lost_key
from .models import PluginSetting
from .plugin_settings import is_sealed, open_secret
from .plugins import make_plugin_manager
from .setting_checks import config_problems, field_of, setting_problem

log = logging.getLogger(__name__)


class PluginError(Exception):
    """A plugin broke the contract (duplicate names, wrong return types...)."""


class Engine:
    """Everything a process needs to run Followup, built once per process."""

    def __init__(
        self,
        settings: Settings,
        *,
        pm: pluggy.PluginManager | None = None,
        extra_plugins: tuple[tuple[str, object], ...] = (),
        connect: bool = True,
    ) -> None:
        self.settings = settings
        self.pm = pm or make_plugin_manager(settings, extra=extra_plugins)
        self._subset_cache: dict[tuple[str, str], Any] = {}
        self._toggles: dict[tuple[str, str], bool] | None = None
        self.db = open_database(
            settings.database_url,
            settings.get("database", "busy_timeout_ms"),
            data_dir=settings.data_dir,
        )
        if connect:
            self.db.connect(reuse_if_open=True)
            if settings.generated:
                refuse_lost_key(settings, self.db)
        # Rate limits are the seller's, shared by every process (core/buckets.py).
        buckets.configure(settings)
        # Registries are built eagerly so a duplicate name fails at start, not later.
        self._owners: dict[str, dict[str, str]] = {}  # hook -> {registered name: plugin}
        self.marketplaces: dict[str, Marketplace] = self._collect(
            "register_marketplaces", Marketplace, key="code"
        )
        self.triggers: dict[str, Trigger] = self._collect("register_triggers", Trigger)
        self.rules: dict[str, Rule] = self._collect("register_rules", Rule)
        self.senders: dict[str, Sender] = self._collect("register_senders", Sender)
        self.sources: dict[str, OrderSource] = self._collect("register_order_sources", OrderSource)
        self.jobs: dict[str, Job] = self._collect("register_jobs", Job)
        self.settings_pages: dict[str, SettingsPage] = self._collect(
            "register_settings_pages", SettingsPage, key="plugin"
        )
        for code in (c for codes in self._restrictions().values() for c in codes):
            if code not in self.marketplaces:
                raise ConfigError(
                    f"[plugins.marketplaces]: unknown marketplace {code!r}. "
                    f"Known: {', '.join(sorted(self.marketplaces))}."
                )
        for plugin, codes in self._restrictions().items():
            for code in codes:
                refused = self._refuses(plugin, "enabled", True, code)
                if refused:
                    raise ConfigError(f"[plugins.marketplaces] {plugin}: {refused}")
        # A plugin setting in config.toml passes the same check as one typed on the
        # Plugins page (core.setting_checks): a bad value stops the start, named.
        problems = config_problems(self)
        if problems:
            raise ConfigError("; ".join(problems))

    # -- lifecycle ---------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply pending schema migrations; returns the names applied."""
        return migrations.migrate(self.db)

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    # -- registries --------------------------------------------------------------

    def _collect(self, hook: str, kind: type, key: str = "name") -> dict[str, Any]:
        out: dict[str, Any] = {}
        owners: dict[str, str] = {}
        caller = getattr(self.pm.hook, hook)
        for impl in caller.get_hookimpls():
            args = {a: self for a in impl.argnames if a == "engine"}
            items = impl.function(**args) or []
            for item in items:
                if not isinstance(item, kind):
                    raise PluginError(
                        f"plugin {impl.plugin_name}: {hook} returned {item!r}, "
                        f"expected {kind.__name__}"
                    )
                name = getattr(item, key)
                if name in out:
                    raise PluginError(
                        f"{hook}: {kind.__name__} {name!r} is registered by both "
                        f"{owners[name]} and {impl.plugin_name}; disable one of them."
                    )
                out[name] = item
                owners[name] = impl.plugin_name
        self._owners[hook] = owners
        return out

    def sender_plugin(self, name: str) -> str | None:
        """The plugin that registered sender ``name`` (None: unknown sender)."""
        return self._owners.get("register_senders", {}).get(name)

    def plugin_of(self, obj: object) -> str | None:
        return self.pm.get_name(obj)

    @cached_property
    def plugin_list(self) -> list[str]:
        return sorted(n for n, _ in self.pm.list_name_plugin())

    # -- per-marketplace enabling -----------------------------------------------

    def _restrictions(self) -> dict[str, tuple[str, ...]]:
        return {
            name: tuple(codes)
            for name, codes in self.settings.section("plugins.marketplaces").items()
        }

    def stored_toggles(self) -> dict[tuple[str, str], bool]:
        """The Plugins page's toggles, (plugin, marketplace) -> on, cached until changed."""
        if self._toggles is None:
            rows = PluginSetting.select().where(PluginSetting.key == "enabled")
            self._toggles = {(r.plugin, r.marketplace): bool(r.value) for r in rows}
        return self._toggles

    def invalidate_toggles(self) -> None:
        """Forget cached per-marketplace toggles (after the Plugins page changes one)."""
        self._toggles = None
        self._subset_cache.clear()

    def plugin_enabled(self, plugin: str, marketplace: str | None) -> bool:
        """Whether ``plugin`` is consulted for ``marketplace`` (config, then the UI toggle)."""
        if marketplace is None:
            return True
        allowed = self._restrictions().get(plugin)
        if allowed is not None and marketplace not in allowed:
            return False
        if self._refuses(plugin, "enabled", True, marketplace):
            return False  # the plugin's settings page says it cannot serve this marketplace
        try:
            toggles = self.stored_toggles()
        except Exception:  # noqa: BLE001 - before migrations the table may not exist
            return True
        return toggles.get((plugin, marketplace), True)

    def hook(self, name: str, marketplace: str | None = None):
        """The hook caller for ``name``, limited to plugins enabled for ``marketplace``."""
        caller = getattr(self.pm.hook, name)
        if marketplace is None or name not in PER_MARKETPLACE_HOOKS:
            return caller
        cache_key = (name, marketplace)
        if cache_key not in self._subset_cache:
            off = [
                plugin
                for pname, plugin in self.pm.list_name_plugin()
                if not self.plugin_enabled(pname, marketplace)
            ]
            self._subset_cache[cache_key] = (
                self.pm.subset_hook_caller(name, remove_plugins=off) if off else caller
            )
        return self._subset_cache[cache_key]

    # -- plugin settings ---------------------------------------------------------

    def plugin_setting(self, plugin: str, key: str, marketplace: str = "", default: Any = None):
        """A plugin's setting: the marketplace's value, else the all-marketplace value,
        else ``[plugin_settings.<plugin>]`` in config.toml, else the page's default."""
        return self.plugin_settings(plugin, marketplace).get(key, default)

    def plugin_settings(self, plugin: str, marketplace: str = "") -> dict[str, Any]:
        """Every setting of ``plugin`` in force for ``marketplace``, in one query, with the
        precedence of ``plugin_setting`` (a plugin reading several keys per message calls
        this once instead of one query per key)."""
        page = self.settings_pages.get(plugin)
        values: dict[str, Any] = {f.key: f.default for f in page.fields} if page else {}
        values.update(self.settings.section("plugin_settings").get(plugin, {}))
        rows = PluginSetting.select(
            PluginSetting.marketplace, PluginSetting.key, PluginSetting.value
        )
        rows = rows.where(
            (PluginSetting.plugin == plugin) & PluginSetting.marketplace.in_({marketplace, ""})
        )
        stored = {(mkt, key): value for mkt, key, value in rows.tuples()}
        for mkt in dict.fromkeys(("", marketplace)):  # the marketplace's value wins
            values.update({k: open_secret(self, v) for (m, k), v in stored.items() if m == mkt})
        return values

    def _refuses(self, plugin: str, key: str, value: Any, marketplace: str) -> str | None:
        """The reason the plugin's ``SettingsPage.validate`` refuses a value, or None."""
        page = getattr(self, "settings_pages", {}).get(plugin)
        if page is None or is_sealed(value):  # a sealed secret was checked before sealing
            return None
        found = setting_problem(page, key, value, marketplace)
        if found and field_of(page, key) is not None:
            return f"{key}: {found}"
        return found

    def set_plugin_setting(self, plugin: str, key: str, value: Any, marketplace: str = "") -> None:
        """Store a plugin setting; raises ``SettingRefused`` when the plugin refuses it."""
        refused = self._refuses(plugin, key, value, marketplace)
        if refused:
            raise SettingRefused(refused)

        with database.atomic():
            PluginSetting.insert(
                plugin=plugin, marketplace=marketplace, key=key, value=value
            ).on_conflict(
                conflict_target=[
                    PluginSetting.plugin,
                    PluginSetting.marketplace,
                    PluginSetting.key,
                ],
                update={PluginSetting.value: value},
            ).execute()
        if key == "enabled":
            self.invalidate_toggles()

    # -- behaviour asked of plugins ----------------------------------------------

    def delivery_window(self, order) -> DeliveryWindow | None:
        return self.hook("delivery_window", order.marketplace)(engine=self, order=order)

    def review_window(self, order) -> TimeWindow | None:
        return self.hook("review_request_window", order.marketplace)(engine=self, order=order)

    def adjust_send_time(self, order, step, due_at):
        return self.hook("adjust_send_time", order.marketplace)(
            engine=self, order=order, step=step, due_at=due_at
        )

    def invoice_url(self, order) -> str | None:
        return self.hook("invoice_url", order.marketplace)(engine=self, order=order)

    def presets(self, marketplace: str, fulfillment: str) -> list[Preset]:
        results = self.hook("default_sequences", marketplace)(
            engine=self, marketplace=marketplace, fulfillment=fulfillment
        )
        return [p for batch in results for p in (batch or [])]

    def content_checks(self, marketplace: str | None = None) -> list:
        results = self.hook("register_content_checks", marketplace)(
            engine=self, marketplace=marketplace
        )
        checks: dict[str, Any] = {}
        for batch in results:
            for check in batch or []:
                checks.setdefault(check.rule_id, check)
        return list(checks.values())

    def vetoes(self, message, order) -> list[str]:
        """Every reason any plugin gives not to send ``message`` (empty = allowed)."""
        reasons: list[str] = []
        for answer in self.hook("send_vetoes", order.marketplace)(
            engine=self, message=message, order=order
        ):
            if answer is None:
                continue
            reasons.extend([answer] if isinstance(answer, str) else list(answer))
        return [r for r in reasons if r]

    def template_context(self, order, message) -> dict[str, Any]:
        """Placeholders from every plugin; a key given twice is a plugin error."""
        merged: dict[str, Any] = {}
        for part in self.hook("template_context", order.marketplace)(
            engine=self, order=order, message=message
        ):
            for key, value in (part or {}).items():
                if key in merged:
                    raise PluginError(f"template_context: placeholder {key!r} given twice")
                merged[key] = value
        return merged

    def template_context_by_plugin(self, order, message=None) -> list[tuple[str, dict[str, Any]]]:
        """Each enabled plugin's placeholders for ``order`` on their own, as
        ``(plugin name, values)``: the template palette uses them to say which plugin
        provides a placeholder (``template_context`` merges them and loses that).

        The palette asks on a stand-in order a plugin may not expect, so here a plugin
        that raises loses only its own placeholders (logged) instead of the whole page.
        """
        parts: list[tuple[str, dict[str, Any]]] = []
        args = {"engine": self, "order": order, "message": message}
        for impl in self.hook("template_context", order.marketplace).get_hookimpls():
            try:
                part = impl.function(**{a: args[a] for a in impl.argnames if a in args})
            except Exception:  # noqa: BLE001 - one plugin must not break the others' part
                log.exception(
                    "template_context of %s failed on order %s", impl.plugin_name, order.order_id
                )
                continue
            parts.append((impl.plugin_name, dict(part or {})))
        return parts

    def attachments(self, order, message, step) -> list:
        results = self.hook("message_attachments", order.marketplace)(
            engine=self, order=order, message=message, step=step
        )
        return [a for batch in results for a in (batch or [])]

    def notify_sent(self, message, order, result) -> None:
        self._notify("message_sent", message=message, order=order, result=result)

    def notify_failed(self, message, order, error: str) -> None:
        self._notify("message_failed", message=message, order=order, error=error)

    def _notify(self, hook: str, **kw) -> None:
        order = kw["order"]
        try:
            self.hook(hook, order.marketplace)(engine=self, **kw)
        except Exception:  # a notification must never undo a recorded send
            log.exception("%s hook failed for order %s", hook, order.order_id)

    def marketplace(self, code: str) -> Marketplace | None:
        return self.marketplaces.get(code)

    def sender(self, name: str) -> Sender:
        try:
            return self.senders[name]
        except KeyError:
            raise PluginError(
                f"sender {name!r} is not registered; loaded senders: {', '.join(self.senders)}"
            ) from None

    def enabled_plugins_for(self, marketplace: str) -> Iterable[str]:
        return [n for n in self.plugin_list if self.plugin_enabled(n, marketplace)]
