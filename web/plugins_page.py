"""Plugins: what each loaded plugin does, per-marketplace toggles and its settings page.

Toggles are the engine's ``enabled`` plugin settings (``Engine.plugin_enabled``); a
``[plugins.marketplaces]`` restriction in config.toml wins over them and is shown
read-only. Built-in plugins (the core's defaults, e.g. the vetoes that enforce Amazon's
hard limits) cannot be switched off here. Settings pages are rendered from each plugin's
``SettingsPage`` fields, for every marketplace or one; secrets (password fields) are
stored Fernet-sealed and never shown again.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core.contracts import SettingRefused
from core.plugin_settings import (
    clear_plugin_setting,
    is_sealed,
    plugin_toggles,
    seal_secret,
    set_plugin_enabled,
    stored_plugin_settings,
)
from core.plugins import available_plugins
from core.setting_checks import parse_setting, setting_problem

from .audit import audit
from .context import engine
from .security import current_user, requires

bp = Blueprint("plugins", __name__, url_prefix="/plugins")

SECRET_SUFFIXES = ("_password", "_secret", "_token")


def is_secret(field) -> bool:
    """Password fields (and keys named like secrets) are stored sealed, never echoed."""
    return field.kind == "password" or field.key.endswith(SECRET_SUFFIXES)


def _builtin(name: str) -> bool:
    obj = engine().pm.get_plugin(name)
    module = getattr(obj, "__name__", None) or getattr(obj, "__module__", "")
    return str(module).startswith("core.")


def _description(name: str) -> str:
    page = engine().settings_pages.get(name)
    if page and page.description:
        return page.description
    doc = getattr(engine().pm.get_plugin(name), "__doc__", "") or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ").replace("``", "")


def _refused(name: str, key: str, value, marketplace: str) -> str | None:
    """The plugin's own reason to refuse a value (``SettingsPage.validate``), or None."""
    page = engine().settings_pages.get(name)
    if page is None or page.validate is None:
        return None
    return page.validate(key, value, marketplace)


def _plugin_or_404(name: str) -> str:
    if name not in engine().plugin_list:
        abort(404, description=f"No plugin named {name!r} is loaded.")
    return name


@bp.route("/")
def index():
    """Every loaded plugin with its description, marketplace toggles and settings link."""
    eng = engine()
    restrictions = {k: tuple(v) for k, v in eng.settings.section("plugins.marketplaces").items()}
    toggles = plugin_toggles(eng)
    plugins = []
    for name in eng.plugin_list:
        builtin = _builtin(name)
        markets = []
        for code in sorted(eng.marketplaces):
            allowed = restrictions.get(name)
            why = ""
            if allowed is not None and code not in allowed:
                why = "config.toml"
            elif not builtin and _refused(name, "enabled", True, code):
                why = "not available"
            markets.append(
                {
                    "code": code,
                    "on": not why and toggles.get((name, code), True),
                    "locked": why,
                    "reason": _refused(name, "enabled", True, code) if why else "",
                }
            )
        plugins.append(
            {
                "name": name,
                "builtin": builtin,
                "description": _description(name),
                "restriction": restrictions.get(name),
                "markets": markets,
                "page": eng.settings_pages.get(name),
            }
        )
    # Plugins are loaded when the engine starts, so turning one on is a config change.
    not_loaded = sorted(set(available_plugins()) - set(eng.plugin_list))
    return render_template(
        "plugins/index.html",
        plugins=[p for p in plugins if not p["builtin"]],
        builtins=[p for p in plugins if p["builtin"]],
        not_loaded=not_loaded,
        enabled=list(eng.settings.get("plugins", "enabled")),
    )


@bp.route("/<name>/toggles", methods=["POST"])
@requires("admin")
def toggles(name: str):
    """Save which marketplaces a plugin serves (the checked boxes are on)."""
    eng = engine()
    _plugin_or_404(name)
    if _builtin(name):
        flash(f"{name} is built in and always on: every marketplace needs its rules.", "error")
        return index(), 409
    allowed = eng.settings.plugin_marketplaces(name)
    wanted = set(request.form.getlist("on"))
    unknown = wanted - set(eng.marketplaces)
    if unknown:
        flash(f"Unknown marketplace: {', '.join(sorted(unknown))}.", "error")
        return index(), 422
    current = plugin_toggles(eng)
    user = current_user()
    changed = []
    for code in sorted(eng.marketplaces):
        if allowed is not None and code not in allowed:
            continue  # config.toml decides; the page shows it read-only
        on = code in wanted
        if on and _refused(name, "enabled", True, code):
            continue  # the plugin cannot serve it; the page shows it locked
        if current.get((name, code), True) != on:
            try:
                set_plugin_enabled(eng, name, code, on, by=user.username if user else "")
            except SettingRefused as exc:
                flash(f"{name} {code}: {exc}", "error")
                continue
            changed.append(f"{code} {'on' if on else 'off'}")
    if changed:
        flash(f"{name}: {', '.join(changed)}.", "success")
    else:
        flash(f"{name}: nothing changed.", "info")
    return redirect(url_for("plugins.index") + f"#plugin-{name}")


def _page_or_404(name: str):
    page = engine().settings_pages.get(_plugin_or_404(name))
    if page is None:
        abort(404, description=f"{name} has no settings page.")
    return page


def _scope() -> str:
    scope = request.values.get("marketplace", "")
    if scope and scope not in engine().marketplaces:
        abort(404, description=f"Unknown marketplace {scope!r}.")
    return scope


def _display_rows(name: str, page, scope: str, posted: dict | None = None):
    """Each field with what the form shows: stored value (never a secret) and fallback."""
    eng = engine()
    stored = stored_plugin_settings(name, scope)
    config = eng.settings.section("plugin_settings").get(name, {})
    rows = []
    for field in page.fields:
        secret = is_secret(field)
        value = stored.get(field.key)
        if scope:
            fallback = eng.plugin_setting(name, field.key, "") if not secret else None
        else:
            fallback = config.get(field.key, field.default) if not secret else None
        if posted is not None and not secret:
            shown = posted.get(field.key, "")
        elif secret or value is None:
            shown = ""
        elif field.kind == "bool":
            shown = "true" if value else "false"
        else:
            shown = value
        rows.append(
            {
                "field": field,
                "secret": secret,
                "value": shown,
                "stored": field.key in stored,
                "sealed": is_sealed(value),
                "fallback": fallback,
                "in_config": field.key in config,
            }
        )
    return rows


@bp.route("/<name>/settings", methods=["GET", "POST"])
def settings(name: str):
    """A plugin's settings for every marketplace (default) or one (``?marketplace=DE``)."""
    page = _page_or_404(name)
    scope = _scope()
    if request.method == "POST":
        return _save(name, page, scope)
    return _render(name, page, scope)


def _render(name, page, scope, errors=None, posted=None, status=200):
    eng = engine()
    return (
        render_template(
            "plugins/settings.html",
            name=name,
            page=page,
            scope=scope,
            rows=_display_rows(name, page, scope, posted),
            errors=errors or {},
            markets=[c for c in sorted(eng.marketplaces) if eng.plugin_enabled(name, c)],
        ),
        status,
    )


@requires("admin")
def _save(name, page, scope):
    eng = engine()
    errors: dict[str, str] = {}
    values: dict = {}
    posted = {f.key: request.form.get(f.key, "") for f in page.fields}
    for field in page.fields:
        # One check for every plugin (core.setting_checks): kind, bounds, the field's
        # own check, the plugin's validate; the same runs when a plugin stores a value.
        values[field.key], error = parse_setting(field, posted[field.key])
        if not error and values[field.key] is not None:
            error = setting_problem(page, field.key, values[field.key], scope) or ""
        if error:
            errors[field.key] = f"{field.label}: {error}"
    if errors:
        flash("Nothing saved: correct the fields marked below.", "error")
        return _render(name, page, scope, errors, posted, 422)
    changed: list[str] = []
    try:
        _store(eng, name, page, scope, values, changed)
    except SettingRefused as exc:
        flash(f"Not all settings were saved: {exc}", "error")
        return _render(name, page, scope, {}, posted, 422)
    where = scope or "every marketplace"
    if changed:
        audit("plugin_settings", f"{name}/{scope or '*'}", "; ".join(changed))
        flash(f"{page.title} settings saved for {where}.", "success")
        moved = [f.label for f in page.fields if f.guards_secrets and _touched(f.key, changed)]
        if moved:
            # The accounts' secrets stay bound to the old address (core.credentials).
            flash(
                f"{', '.join(moved)} changed: enter each account's secrets again on the "
                "Accounts page before it syncs or sends.",
                "error",
            )
    else:
        flash(f"{page.title}: nothing changed for {where}.", "info")
    return redirect(url_for("plugins.settings", name=name, marketplace=scope or None))


def _touched(key: str, changed: list[str]) -> bool:
    return any(c.split("=", 1)[0].split(" ", 1)[0] == key for c in changed)


def _store(eng, name, page, scope, values, changed) -> None:
    for field in page.fields:
        value = values[field.key]
        if is_secret(field):
            if request.form.get(f"{field.key}__clear"):
                clear_plugin_setting(name, field.key, scope)
                changed.append(f"{field.key} cleared")
            elif value is not None:
                # Stored sealed with the credentials' Fernet key; plugins get it back
                # in plain text from Engine.plugin_setting, nobody else sees it.
                eng.set_plugin_setting(name, field.key, seal_secret(eng, value), scope)
                changed.append(f"{field.key} set")
            continue
        stored = stored_plugin_settings(name, scope)
        if value is None:
            if field.key in stored:
                clear_plugin_setting(name, field.key, scope)
                changed.append(f"{field.key} inherited")
        elif stored.get(field.key) != value:
            eng.set_plugin_setting(name, field.key, value, scope)
            changed.append(f"{field.key}={value}")
