"""Every route of the admin, found in ``app.url_map``, checked for sign-in, roles and CSRF.

For every rule and method:

- anonymous → a redirect to the sign-in page (except the ``PUBLIC`` endpoints);
- a viewer → 403 on every mutating method (POST, PUT, PATCH, DELETE), unless the table
  says viewers may use it (previews, their own password, signing out);
- an editor → 403 on the mutating methods of ``ADMIN`` endpoints;
- every mutating method refuses a missing or a wrong CSRF token (400).

A route without an entry in ``ROUTES`` fails the test. To add one, put its endpoint in
``ROUTES`` with who may change things through it:

    PUBLIC   no sign-in (also list it in ``web.security.OPEN_ENDPOINTS``)
    READ     any signed-in user; it has no mutating method
    VIEWER   any signed-in user, mutating methods included (say why in a comment)
    EDITOR   mutating methods need ``@requires("editor")``
    ADMIN    mutating methods need ``@requires("admin")``
"""

from __future__ import annotations

import pytest

from tests.support.outbox import user_client
from tests.support.web import csrf_token

PUBLIC, READ, VIEWER, EDITOR, ADMIN = "public", "read", "viewer", "editor", "admin"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

ROUTES = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "health.healthz": PUBLIC,
    "health.metrics_view": PUBLIC,
    "auth.logout": VIEWER,  # everyone may sign themselves out
    "auth.password": VIEWER,  # everyone changes their own password
    "dashboard.index": READ,
    "dashboard.demo": EDITOR,
    "orders.index": READ,
    "feedback.index": READ,
    "attention.index": READ,
    "dashboard.coverage_missing": READ,
    "blocklist.index": READ,
    "blocklist.add": EDITOR,
    "blocklist.remove": EDITOR,
    "orders.resume": EDITOR,
    "orders.unblock": EDITOR,
    "connect_amazon.guide": ADMIN,
    "connect_amazon.check": ADMIN,
    "settings.save": ADMIN,
    "orders.detail": READ,
    "orders.block": EDITOR,
    "orders.send_now": EDITOR,
    "orders.stop": EDITOR,
    "messages.index": READ,
    "messages.detail": READ,
    "messages.export": READ,
    "messages.cancel": EDITOR,
    "messages.resolve": EDITOR,
    "messages.retry": EDITOR,
    "campaigns.index": READ,
    "campaigns.new": READ,
    "campaigns.detail": READ,
    "campaigns.rule_fields_view": READ,
    "campaigns.dry_run_view": READ,
    "campaigns.ab_csv": READ,
    "campaigns.confirm_status": READ,
    "campaigns.confirm_remove_step": READ,
    "campaigns.step_editor": READ,
    "campaigns.preview": VIEWER,  # renders the typed text, stores nothing
    "campaigns.create": EDITOR,
    "campaigns.edit": EDITOR,
    "campaigns.change_status": EDITOR,
    "campaigns.import_outcomes": EDITOR,
    "campaigns.new_step": EDITOR,
    "campaigns.remove_step": EDITOR,
    "campaigns.reorder_step": EDITOR,
    "campaigns.save_products": EDITOR,
    "campaigns.save_step": EDITOR,
    "campaigns.save_text": EDITOR,
    "templates.index": READ,
    "templates.edit": READ,
    "templates.versions": READ,
    "templates.theme_list": READ,
    "templates.theme_preview": READ,
    "templates.preview": VIEWER,  # renders the typed text, stores nothing
    "templates.preview_html": VIEWER,  # the same preview's HTML, for its frame
    "templates.import_template": EDITOR,
    "templates.save": EDITOR,
    "templates.test_send": EDITOR,
    "templates.theme_save": EDITOR,
    "files.index": READ,
    "files.download": READ,
    "files.upload": EDITOR,
    "files.delete": EDITOR,
    "accounts.index": READ,
    "accounts.progress": READ,
    "accounts.sync_status": READ,
    "accounts.import_file": EDITOR,
    "accounts.sync": EDITOR,
    "accounts.test": EDITOR,
    "accounts.new": ADMIN,
    "accounts.edit": ADMIN,
    "accounts.delete": ADMIN,
    "plugins.index": READ,
    "plugins.settings": ADMIN,
    "plugins.toggles": ADMIN,
    "settings.index": READ,
    "settings.audit_log": READ,
    "settings.users": ADMIN,
    "settings.user_delete": ADMIN,
    "settings.user_disable": ADMIN,
    "settings.user_enable": ADMIN,
    "settings.user_role": ADMIN,
}


# URL parts that must name something real for the view to reach its role check; any
# other part gets 1 (numbers) or "x": ids need not exist, the checks come before lookups.
SAMPLES = {"plugins.settings": {"name": "amazon"}, "plugins.toggles": {"name": "amazon"}}


def _url(rule) -> str:
    """The rule's URL with a sample value for each part."""
    values = dict(SAMPLES.get(rule.endpoint, {}))
    for name, converter in rule._converters.items():
        if name in values:
            continue
        kind = type(converter).__name__.lower()
        values[name] = 1 if "int" in kind else ("app.css" if "path" in kind else "x")
    return rule.build(values)[1]


def _cases(app) -> list[tuple[str, str, str]]:
    return [
        (rule.endpoint, method, _url(rule))
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(ROUTES))
    assert not missing, (
        f"routes without an entry in tests/test_routes.py ROUTES: {missing}. Add each with "
        "PUBLIC, READ, VIEWER, EDITOR or ADMIN (see the module docstring), and make the view "
        "follow web/security.py: @requires(role) on mutating views, CSRF on every POST."
    )
    gone = sorted(set(ROUTES) - endpoints)
    assert not gone, f"ROUTES lists endpoints that no longer exist: {gone}; remove them"


def test_anonymous_requests_go_to_the_sign_in_page(app):
    client = app.test_client()
    token = csrf_token(client)  # so a POST is refused for the sign-in, not the token
    for endpoint, method, url in _cases(app):
        response = client.open(url, method=method, data={"csrf_token": token})
        if ROUTES.get(endpoint) == PUBLIC:
            assert not (response.location or "").startswith("/login?"), f"{url} is public"
            continue
        assert response.status_code == 302, f"{method} {url}: {response.status_code}"
        assert response.location.startswith("/login"), f"{method} {url}: {response.location}"


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_roles_below_the_routes_get_403_on_mutations(app, role):
    client = user_client(app, role)
    token = csrf_token(client, "/orders/")
    refused_to = {"viewer": (EDITOR, ADMIN), "editor": (ADMIN,)}[role]
    checked = 0
    for endpoint, method, url in _cases(app):
        if method not in MUTATING or ROUTES.get(endpoint) not in refused_to:
            continue
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 403, f"{role} {method} {url}: {response.status_code}"
        checked += 1
    assert checked >= {"viewer": 30, "editor": 8}[role]


def test_every_mutation_refuses_a_missing_or_wrong_csrf_token(app, signed_in):
    checked = 0
    for _endpoint, method, url in _cases(app):
        if method not in MUTATING:
            continue
        for data, headers in (({}, {}), ({"csrf_token": "wrong"}, {"X-CSRF-Token": "wrong"})):
            response = signed_in.open(url, method=method, data=data, headers=headers)
            assert response.status_code == 400, f"{method} {url}: {response.status_code}"
            assert b"CSRF" in response.data
        checked += 1
    assert checked > 30
    assert signed_in.get("/orders/").status_code == 200  # still signed in: nothing ran


def test_a_new_route_without_an_entry_fails_with_how_to_add_it(app):
    app.add_url_rule("/zz-new", "zz_new", lambda: "", methods=["POST"])
    with pytest.raises(AssertionError, match=r"without an entry.*\['zz_new'\].*@requires"):
        test_every_route_is_in_the_table(app)
