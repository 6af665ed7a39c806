"""Where the Amazon plugin may send a seller's secrets: Amazon's own https hosts only.

The refresh token and the client secret go to the Login with Amazon token URL, and the
access token it returns to the SP-API endpoint. Both are settings; a value pointing
anywhere else would hand the secrets to that server (docs/amazon-rules.md §7.1). So the
Plugins page accepts only Amazon's hosts, and the client checks again before every
connection: another host is used only when it comes from config.toml with
``development_endpoints = true`` (the tests' local fake SP-API).
"""

from __future__ import annotations

from urllib.parse import urlsplit

# Amazon's regional SP-API hosts and their sandboxes.
SP_API_HOSTS = frozenset(
    f"{prefix}sellingpartnerapi-{region}.amazon.com"
    for prefix in ("", "sandbox.")
    for region in ("na", "eu", "fe")
)
# Login with Amazon's token service.
LWA_HOSTS = frozenset({"api.amazon.com", "api.amazon.co.uk", "api.amazon.co.jp"})
LWA_PATH = "/auth/o2/token"


def _https_host(value: str) -> tuple[str, str, str]:
    """(host, path, problem) of a URL that must be plain https on the default port."""
    try:
        parts = urlsplit(str(value).strip())
        port = parts.port
    except ValueError:
        return "", "", f"{value!r} is not a URL"
    if parts.scheme != "https":
        return "", "", f"{value!r} is not an https address"
    if parts.username or parts.password or port not in (None, 443) or parts.query:
        return "", "", f"{value!r}: no user, port or query may be given"
    return (parts.hostname or "").lower(), parts.path, ""


def endpoint_problem(value) -> str | None:
    """None when ``value`` is one of Amazon's SP-API hosts (https), else why not."""
    host, path, problem = _https_host(value)
    if problem:
        return problem
    if host not in SP_API_HOSTS or path not in ("", "/"):
        return f"{value!r} is not an Amazon SP-API host ({', '.join(sorted(SP_API_HOSTS))})"
    return None


def lwa_url_problem(value) -> str | None:
    """None when ``value`` is Login with Amazon's token URL (https), else why not."""
    host, path, problem = _https_host(value)
    if problem:
        return problem
    if host not in LWA_HOSTS or path != LWA_PATH:
        return f"{value!r} is not Login with Amazon's token URL (https://api.amazon.com{LWA_PATH})"
    return None


def connection_problem(engine) -> str | None:
    """Why the plugin must not connect with the settings in force (None: it may).

    A value an endpoint check refuses is used only when it is config.toml's own value and
    that table sets ``development_endpoints = true``: a value stored through the web
    admin never sends the secrets anywhere but Amazon.
    """
    config = engine.settings.section("plugin_settings").get("amazon", {})
    development = config.get("development_endpoints") is True
    for key, check, default in (
        ("endpoint", endpoint_problem, ""),
        ("lwa_url", lwa_url_problem, "https://api.amazon.com" + LWA_PATH),
    ):
        value = engine.plugin_setting("amazon", key, default=default)
        if not value:
            continue
        problem = check(value)
        if problem and not (development and value == config.get(key)):
            return f"setting {key}: {problem}; fix it on the Plugins page"
    return None
