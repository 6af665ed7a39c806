"""One check for every plugin setting, wherever the value comes from.

The Plugins page, ``Engine.set_plugin_setting`` (a plugin storing a value) and the
start-up check of ``[plugin_settings.<plugin>]`` in config.toml all ask
``setting_problem``: the field's kind and bounds, its own ``check``, then the page's
``validate``. Each answer names what to fix; the caller puts the field's name in front.
"""

from __future__ import annotations

from typing import Any

from .contracts import SettingField, SettingsPage

MAX_TEXT = 5000
DEVELOPMENT_FLAG = "development_endpoints"  # a key of [plugin_settings.<plugin>] only
BOOL_TEXTS = ("true", "false", "on", "off", "yes", "no", "1", "0")


def field_of(page: SettingsPage | None, key: str) -> SettingField | None:
    if page is None:
        return None
    return next((f for f in page.fields if f.key == key), None)


def _bounds(field: SettingField) -> str:
    low, high = field.minimum, field.maximum
    if low is not None and high is not None:
        return f"a whole number from {low} to {high}"
    if low is not None:
        return f"a whole number, {low} or more"
    if high is not None:
        return f"a whole number, at most {high}"
    return "a whole number"


def kind_problem(field: SettingField, value: Any) -> str | None:
    """What is wrong with ``value`` for the field's kind and bounds (None: fine)."""
    if value is None:
        return None
    if field.kind == "int":
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)  # a plugin storing the text of a number: read as one
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{value!r} is not {_bounds(field)}"
        if (field.minimum is not None and value < field.minimum) or (
            field.maximum is not None and value > field.maximum
        ):
            return f"{value} is out of range: enter {_bounds(field)}"
        return None
    if field.kind == "bool":
        if isinstance(value, bool) or str(value).strip().lower() in BOOL_TEXTS:
            return None
        return f"{value!r}: choose on or off"
    if field.kind == "choice" and field.choices and value not in field.choices:
        return f"{value!r} is not valid: choose one of {', '.join(field.choices)}"
    if field.kind in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return "must be text"
        if len(value) > MAX_TEXT:
            return f"too long ({MAX_TEXT} characters at most)"
    return None


def setting_problem(
    page: SettingsPage | None,
    key: str,
    value: Any,
    marketplace: str = "",
    *,
    from_config: dict | None = None,
) -> str | None:
    """Why ``value`` cannot be the setting ``key`` of ``page`` (None: it can).

    ``from_config``: the plugin's config.toml table when the value comes from there;
    with ``development_endpoints = true`` in it, a ``guards_secrets`` field may point
    at a host its ``check`` refuses (the tests' local fake API, a private proxy).
    """
    field = field_of(page, key)
    if field is not None:
        found = kind_problem(field, value)
        if found:
            return found
        if field.check is not None and value not in (None, ""):
            development = from_config is not None and from_config.get(DEVELOPMENT_FLAG) is True
            if not (field.guards_secrets and development):
                found = field.check(value)
                if found:
                    return found
    if page is not None and page.validate is not None and value is not None:
        return page.validate(key, value, marketplace)
    return None


def parse_setting(field: SettingField, raw: str) -> tuple[Any, str]:
    """A form's text as the field's value: (value, "" or what is wrong); value ``None``
    means "not set here" (the value from config.toml or the default applies)."""
    raw = raw.strip() if field.kind != "textarea" else raw
    if raw == "":
        return None, ""
    if field.kind == "int":
        try:
            value: Any = int(raw)
        except ValueError:
            return None, f"{raw!r} is not {_bounds(field)}"
    elif field.kind == "bool":
        if raw not in ("true", "false"):
            return None, "choose on or off"
        value = raw == "true"
    else:
        value = raw
    return value, ""


def config_problems(engine) -> list[str]:
    """Every ``[plugin_settings.<plugin>]`` value in config.toml that its plugin's page
    refuses, as ``[plugin_settings.amazon] lwa_url: ...`` (checked at start-up)."""
    problems = []
    for plugin, table in engine.settings.section("plugin_settings").items():
        page = engine.settings_pages.get(plugin)
        if page is None or not isinstance(table, dict):
            continue
        flag = table.get(DEVELOPMENT_FLAG)
        if flag is not None and not isinstance(flag, bool):
            problems.append(f"[plugin_settings.{plugin}] {DEVELOPMENT_FLAG}: true or false")
        for key, value in table.items():
            if key == DEVELOPMENT_FLAG:
                continue
            found = setting_problem(page, key, value, "", from_config=table)
            if found:
                problems.append(f"[plugin_settings.{plugin}] {key}: {found}")
    return problems
