"""config.toml -> frozen settings.

Every key the application reads is declared in ``SCHEMA`` below with its type, default
and a one-line description. Loading is strict on purpose: an unknown key, a value of the
wrong type, a secret that cannot be resolved or a plugin that does not exist stops
startup with one ``ConfigError`` naming the key, its section and what to write instead.
Nothing is validated lazily at request time.

Secrets are never written inline: ``{ env = "VAR" }`` reads an environment variable,
``{ file = "path" }`` reads a file, and ``{ file = "path", generate = true }`` creates
the file with a random value on first start (the embedded default, so that ``make run``
needs no manual step).
"""

from __future__ import annotations

import base64
import difflib
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .files import private_dir

CONFIG_ENV = "FOLLOWUP_CONFIG"
DEFAULT_CONFIG = "config.toml"


class ConfigError(Exception):
    """A configuration problem a person must fix before Followup can start."""


@dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]
    default: Any
    help: str
    secret: bool = False
    choices: tuple[str, ...] = ()
    required: bool = True  # secrets only: False lets the key be left out (None)


# section -> key -> Key. Sections ending in ".*" take arbitrary keys (validated by type).
SCHEMA: dict[str, dict[str, Key]] = {
    "app": {
        "data_dir": Key(str, "data", "folder for the SQLite database, queue and key files"),
        "timezone": Key(str, "UTC", "the seller's own time zone for dates shown in the admin"),
        "test_mode": Key(
            bool, False, "when true every campaign sends through the dry-run sender only"
        ),
        "log_level": Key(str, "INFO", "logging level", choices=("DEBUG", "INFO", "WARNING")),
        "log_format": Key(str, "text", "log line format", choices=("text", "json")),
    },
    "web": {
        "host": Key(str, "127.0.0.1", "address the web admin listens on"),
        "port": Key(int, 8000, "port the web admin listens on"),
        "secret_key": Key(str, None, "signs session cookies", secret=True),
        "secure_cookies": Key(
            str, "auto", "Secure flag on cookies", choices=("auto", "always", "never")
        ),
        "threads": Key(int, 8, "waitress worker threads"),
        "trusted_proxies": Key(
            int, 0, "reverse proxies in front whose X-Forwarded-For/-Proto/-Host are believed"
        ),
    },
    "database": {
        "url": Key(str, "sqlite:///data/followup.db", "sqlite:///PATH or postgresql://..."),
        "busy_timeout_ms": Key(int, 5000, "SQLite: how long a writer waits for the lock"),
    },
    "queue": {
        "backend": Key(str, "sqlite", "huey storage", choices=("sqlite", "redis", "memory")),
        "path": Key(str, "data/queue.db", "SqliteHuey file (backend = sqlite)"),
        "redis_url": Key(str, "redis://127.0.0.1:6379/0", "RedisHuey URL (backend = redis)"),
        "workers": Key(int, 2, "huey consumer worker threads"),
        "name": Key(str, "followup", "queue name (isolates installs sharing a Redis)"),
    },
    "security": {
        "encryption_key": Key(str, None, "Fernet key for credentials at rest", secret=True),
        "login_attempts": Key(
            int, 5, "failed sign-ins from one address before further tries wait, doubling"
        ),
    },
    "dispatch": {
        "interval_seconds": Key(int, 60, "how often due messages are dispatched"),
        "batch_size": Key(int, 50, "messages claimed per dispatch round"),
        "lease_seconds": Key(int, 300, "how long a claimed message is reserved"),
        "max_attempts": Key(int, 5, "attempts before a retryable failure becomes permanent"),
        "throttle_give_up_hours": Key(
            int, 48, "a message the channel keeps throttling (429) fails after this long"
        ),
    },
    "metrics": {
        "enabled": Key(bool, False, "serve /metrics (Prometheus text format)"),
        "token": Key(str, None, "bearer token /metrics requires", secret=True, required=False),
    },
    "planning": {
        "inline_replan_max_orders": Key(
            int,
            50_000,
            "a campaign edit re-plans up to this many orders at once; more, the worker does",
        ),
    },
    "sync": {
        "interval_minutes": Key(int, 30, "how often each account's orders are synced"),
        "overlap_minutes": Key(int, 30, "re-read this much before the last cursor"),
    },
    "plugins": {
        "enabled": Key(list, [], "plugins to load by name (built-in or entry point)"),
        "entrypoints": Key(bool, True, "also load plugins from the 'followup' entry points"),
    },
    # plugin name -> list of marketplace codes; a plugin not listed serves all.
    "plugins.marketplaces": {"*": Key(list, [], "marketplace codes a plugin serves")},
    # plugin name -> table of that plugin's own settings, handed to it untouched.
    "plugin_settings": {"*": Key(dict, {}, "a plugin's own settings table")},
}


@dataclass(frozen=True)
class Settings:
    """Validated settings. ``section("web")["port"]`` or ``settings.get("web", "port")``."""

    path: Path
    base_dir: Path
    values: MappingProxyType = field(repr=False)
    # secret files (section, key, path) this load generated, or (doctor, which creates
    # nothing) would have generated; see ``core.keyguard``.
    generated: tuple = ()
    missing: tuple = ()
    # (section, key, {"env": ...} or {"file": ...}) of every secret: what backups copy
    sources: tuple = ()

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def section(self, name: str) -> MappingProxyType:
        return self.values[name]

    @property
    def data_dir(self) -> Path:
        return self.resolve_path(self.get("app", "data_dir"))

    def resolve_path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def database_url(self) -> str:
        url = self.get("database", "url")
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            return "sqlite:///" + str(self.resolve_path(url[len("sqlite:///") :]))
        return url

    def plugin_marketplaces(self, plugin: str) -> tuple[str, ...] | None:
        """Marketplace codes ``plugin`` is enabled for, or None for all."""
        codes = self.values["plugins.marketplaces"].get(plugin)
        return tuple(codes) if codes is not None else None


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list"}
    names[dict] = "a table"
    if isinstance(t, tuple):
        return " or ".join(names.get(x, x.__name__) for x in t)
    return names.get(t, t.__name__)


def _resolve_secret(
    section: str, key: str, value: Any, base_dir: Path, data_dir: Path, made: dict
) -> str:
    """The secret's value. ``made`` collects what happened to ``generate`` files:
    ``made["created"]`` the (section, key, path) written now, and with
    ``made["create"]`` False (doctor) nothing is written: ``made["missing"]`` gets them."""
    where = f"[{section}] {key}"
    if isinstance(value, str):
        raise ConfigError(
            f'{where}: secrets are not written inline. Write {key} = {{ env = "VAR" }} '
            f'or {key} = {{ file = "path/to/file" }} instead.'
        )
    if not isinstance(value, dict) or not ({"env", "file"} & value.keys()):
        raise ConfigError(f'{where}: expected {{ env = "VAR" }} or {{ file = "path" }}.')
    extra = set(value) - {"env", "file", "generate"}
    if extra:
        raise ConfigError(f"{where}: unknown option {sorted(extra)[0]!r}; use env, file, generate.")
    if "env" in value:
        got = os.environ.get(value["env"])
        if not got:
            raise ConfigError(
                f"{where}: environment variable {value['env']} is not set. Export it, "
                f'or write {key} = {{ file = "data/{key}", generate = true }}.'
            )
        return got
    path = Path(value["file"])
    path = path if path.is_absolute() else base_dir / path
    if not path.exists():
        if not value.get("generate"):
            raise ConfigError(
                f"{where}: file {path} does not exist. Create it, or add generate = true."
            )
        if not made.get("create", True):
            made.setdefault("missing", []).append((section, key, path))
            return ""
        # Only the data folder is created (private); a key file in any other missing
        # folder is a typo, and writing it there would hide the key where no backup looks.
        if path.parent.resolve() == data_dir.resolve():
            private_dir(data_dir)
        elif not path.parent.is_dir():
            raise ConfigError(
                f"{where}: folder {path.parent} does not exist. Fix the path, or create "
                f"the folder (mkdir -m 700 {path.parent})."
            )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(_new_secret(key))
        made.setdefault("created", []).append((section, key, path))
    text = path.read_text().strip()
    if not text:
        raise ConfigError(f"{where}: file {path} is empty.")
    return text


def _new_secret(key: str) -> str:
    if key == "encryption_key":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(48)


def _check_value(section: str, key: str, spec: Key, value: Any) -> Any:
    where = f"[{section}] {key}"
    ok = isinstance(value, spec.type) and not (spec.type is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(
            f"{where}: expected {_type_name(spec.type)}, got {type(value).__name__} "
            f"{value!r}. {spec.help.capitalize()}."
        )
    if spec.choices and value not in spec.choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(spec.choices)}.")
    return value


def _unknown(section: str, key: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else f" Known keys: {', '.join(known)}."
    return ConfigError(f"[{section}] {key}: unknown key.{hint}")


def _flatten(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Turn TOML's nested tables into SCHEMA's dotted section names."""
    out: dict[str, dict[str, Any]] = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"{name}: top-level keys must be tables. Write it under a section such as [app]."
            )
        if name == "plugins":
            nested = {k: v for k, v in table.items() if k == "marketplaces"}
            out["plugins"] = {k: v for k, v in table.items() if k != "marketplaces"}
            if "marketplaces" in nested:
                if not isinstance(nested["marketplaces"], dict):
                    raise ConfigError("[plugins] marketplaces: expected a table.")
                out["plugins.marketplaces"] = nested["marketplaces"]
        else:
            out[name] = table
    return out


def load_settings(path: str | os.PathLike | None = None, *, create: bool = True) -> Settings:
    """Read and validate a config file (``FOLLOWUP_CONFIG`` or ./config.toml).

    ``create=False`` (doctor) writes nothing: a ``generate`` key file that does not
    exist yet is listed in ``Settings.missing`` with an empty value."""
    path = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).resolve()
    if not path.exists():
        raise ConfigError(f"config file {path} not found. Copy config.toml from the repository.")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return settings_from_dict(raw, path, create=create)


def settings_from_dict(
    raw: dict[str, Any], path: Path | None = None, *, create: bool = True
) -> Settings:
    """Validate an already-parsed config (used by tests and ``load_settings``)."""
    path = path or Path.cwd() / DEFAULT_CONFIG
    base_dir = path.parent
    given = _flatten(raw)
    values: dict[str, dict[str, Any]] = {}
    made: dict[str, Any] = {"create": create}
    for section in given:
        if section not in SCHEMA:
            close = difflib.get_close_matches(section, list(SCHEMA), n=1)
            hint = f" Did you mean [{close[0]}]?" if close else ""
            raise ConfigError(f"[{section}]: unknown section.{hint}")
    for section, keys in SCHEMA.items():
        table = given.get(section, {})
        if "*" in keys:
            spec = keys["*"]
            values[section] = {
                k: _check_value(section, k, spec, v) for k, v in sorted(table.items())
            }
            continue
        out: dict[str, Any] = {}
        for key in table:
            if key not in keys:
                raise _unknown(section, key, list(keys))
        for key, spec in keys.items():
            if spec.secret:
                value = table.get(key)
                if value is None and not spec.required:
                    out[key] = None
                    continue
                if value is None:
                    raise ConfigError(
                        f'[{section}] {key}: missing. Write {key} = {{ env = "VAR" }} or '
                        f'{key} = {{ file = "data/{key}", generate = true }}.'
                    )
                data_dir = Path(values["app"]["data_dir"])
                data_dir = data_dir if data_dir.is_absolute() else base_dir / data_dir
                out[key] = _resolve_secret(section, key, value, base_dir, data_dir, made)
                made.setdefault("sources", []).append((section, key, dict(value)))
            elif key in table:
                out[key] = _check_value(section, key, spec, table[key])
            else:
                out[key] = spec.default
        values[section] = out
    if values["web"]["trusted_proxies"] < 0:
        raise ConfigError("[web] trusted_proxies: must be 0 (no proxy) or the number of proxies.")
    if values["metrics"]["enabled"] and not values["metrics"]["token"]:
        raise ConfigError(
            "[metrics] token: required when enabled. "
            'Write token = { env = "FOLLOWUP_METRICS_TOKEN" }.'
        )
    for name in values["plugins"]["enabled"]:
        if not isinstance(name, str):
            raise ConfigError(f"[plugins] enabled: {name!r} is not a plugin name (a string).")
    frozen = MappingProxyType({k: MappingProxyType(v) for k, v in values.items()})
    return Settings(
        path=path,
        base_dir=base_dir,
        values=frozen,
        generated=tuple(made.get("created", ())),
        missing=tuple(made.get("missing", ())),
        sources=tuple(made.get("sources", ())),
    )
