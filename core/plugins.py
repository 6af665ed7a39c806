"""Building the plugin manager: built-in defaults, enabled plugins, entry points.

* ``DEFAULT_PLUGINS`` are modules of ``core`` written as ordinary plugins, so every
  default can be replaced by unregistering it.
* Plugins named in ``[plugins] enabled`` are found by name in the ``followup``
  entry-point group (Followup's own plugins are published there by pyproject.toml, just
  like a third party's); a name that is no entry point is imported as a module path,
  dotted (``mypackage.followup_rules``) or bare (``my_followup_plugin``).
* With ``[plugins] entrypoints = true`` every *third-party* plugin installed in the
  environment is loaded as well, the way datasette loads its plugins.
* A plugin that cannot work without another says so with ``REQUIRES = ("amazon",)``
  (entry-point names); startup stops, naming ``[plugins] enabled``, when one is missing,
  rather than the plugin failing quietly later (the demo's orders without the Amazon
  plugin's marketplaces: 0 orders stored, every one rejected).
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType

import pluggy

from . import hookspecs
from .config import ConfigError, Settings

log = logging.getLogger(__name__)

ENTRYPOINT_GROUP = "followup"
OWN_DISTRIBUTION = "followup"

DEFAULT_PLUGINS = (
    "core.default_triggers",
    "core.default_rules",
    "core.default_senders",
    "core.default_vetoes",
    "core.default_windows",
    "core.default_context",
    "core.default_content_checks",
    "core.default_attachments",
)


def available_plugins() -> dict[str, EntryPoint]:
    """Every plugin installed under the ``followup`` entry-point group, by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRYPOINT_GROUP)}


def _third_party(ep: EntryPoint) -> bool:
    dist = getattr(ep, "dist", None)
    return dist is None or dist.metadata["Name"].lower() != OWN_DISTRIBUTION


def make_plugin_manager(
    settings: Settings | None = None,
    *,
    entrypoints: bool | None = None,
    extra: tuple[tuple[str, object], ...] = (),
) -> pluggy.PluginManager:
    """Return a plugin manager with defaults, enabled plugins and ``extra`` (name, obj).

    Raises ``ConfigError`` naming the plugin when an enabled plugin does not exist, or
    when ``[plugins.marketplaces]`` names a plugin that is not loaded.
    """
    pm = pluggy.PluginManager("followup")
    pm.add_hookspecs(hookspecs)
    for path in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(path), name=path.rsplit(".", 1)[-1])
    installed = available_plugins()
    enabled = list(settings.get("plugins", "enabled")) if settings else []
    for name in enabled:
        pm.register(_load(name, installed), name=name)
    if entrypoints is None:
        entrypoints = bool(settings.get("plugins", "entrypoints")) if settings else False
    if entrypoints:
        for name, ep in installed.items():
            if name not in enabled and _third_party(ep) and pm.get_plugin(name) is None:
                pm.register(ep.load(), name=name)
                log.info("loaded third-party plugin %s", name)
    for name, obj in extra:
        pm.register(obj, name=name)
    check_requirements(pm, installed)
    if settings:
        for name in settings.section("plugins.marketplaces"):
            if pm.get_plugin(name) is None:
                raise ConfigError(
                    f"[plugins.marketplaces] {name}: no such plugin is loaded. Add it to "
                    f"[plugins] enabled, or remove this line. Loaded: {plugin_names(pm)}."
                )
    return pm


def check_requirements(pm: pluggy.PluginManager, installed: dict[str, EntryPoint]) -> None:
    """Raise ``ConfigError`` when a loaded plugin's ``REQUIRES`` names a plugin that is
    not loaded. A plugin counts under its registered name and, when it was loaded by its
    module path, under the entry-point name that module is published as."""
    loaded = [(name, plugin) for name, plugin in pm.list_name_plugin() if plugin is not None]
    provided = {name for name, _ in loaded}
    modules = {getattr(plugin, "__name__", None) for _, plugin in loaded}
    provided |= {ep.name for ep in installed.values() if ep.value in modules}
    for name, plugin in loaded:
        needs = getattr(plugin, "REQUIRES", ())
        needs = (needs,) if isinstance(needs, str) else needs
        if not isinstance(needs, tuple | list) or not all(isinstance(n, str) for n in needs):
            raise ConfigError(
                f"plugin {name!r}: REQUIRES must be a tuple of plugin names, not {needs!r}"
            )
        missing = [need for need in needs if need not in provided]
        if missing:
            names = ", ".join(f'"{need}"' for need in missing)
            raise ConfigError(
                f"[plugins] enabled: plugin {name!r} needs {names}, which is not enabled. "
                f"Add {names} to [plugins] enabled in config.toml, or remove {name!r}."
            )


def _load(name: str, installed: dict[str, EntryPoint]) -> ModuleType | object:
    if name in installed:
        return installed[name].load()
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name and not name.startswith(f"{exc.name}."):
            # The module exists but itself imports something missing: say that.
            raise ConfigError(f"[plugins] enabled: cannot import {name!r}: {exc}") from exc
    except ImportError as exc:
        raise ConfigError(f"[plugins] enabled: cannot import {name!r}: {exc}") from exc
    known = ", ".join(sorted(installed)) or "(none installed)"
    raise ConfigError(
        f"[plugins] enabled: unknown plugin {name!r}: no installed plugin has that "
        f"entry-point name and no module has that path. Installed plugins: {known}. "
        "Remove it from the list, install the package that provides it, or give the "
        "module's import path."
    )


def plugin_names(pm: pluggy.PluginManager) -> str:
    return ", ".join(sorted(n for n, _ in pm.list_name_plugin()))
