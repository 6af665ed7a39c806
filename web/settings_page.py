"""Global settings, users and roles, and the audit log.

The time zone and test mode are edited here (``core.runtime_settings``: validated,
audited, in force within seconds in the web admin and the worker, no restart); a value
saved here wins over config.toml's. Every other global setting lives in config.toml
(``core.config.SCHEMA``), read once at start: the page shows them read-only with their
key, and never shows a secret's value.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core import runtime_settings
from core.campaigns import replan_campaign
from core.config import SCHEMA
from core.models import AuditLog, Campaign, User
from core.passwords import generate_password
from core.users import (
    ROLES,
    UserError,
    add_user,
    delete_user,
    disable_user,
    enable_user,
    is_disabled,
    set_role,
)

from .audit import audit
from .context import engine
from .converters import is_id
from .security import current_user, requires

bp = Blueprint("settings", __name__, url_prefix="/settings")

AUDIT_PAGE = 50
# The settings a seller asks about first, in this order; the rest follow by section.
SHOWN = (
    ("app", "test_mode"),
    ("app", "timezone"),
    ("sync", "interval_minutes"),
    ("sync", "overlap_minutes"),
    ("dispatch", "interval_seconds"),
    ("dispatch", "max_attempts"),
    ("queue", "backend"),
    ("queue", "workers"),
    ("security", "login_attempts"),
    ("web", "secure_cookies"),
    ("web", "trusted_proxies"),
    ("app", "log_level"),
)


def _global_settings() -> list[dict]:
    settings = engine().settings
    rows = []
    editable = {(e.section, e.key) for e in runtime_settings.EDITABLE}
    for section, key in SHOWN:
        if (section, key) in editable:
            continue  # edited in the form above the table
        spec = SCHEMA[section][key]
        value = settings.get(section, key)
        rows.append(
            {
                "key": f"[{section}] {key}",
                "value": "set (secret, not shown)" if spec.secret else value,
                "help": spec.help,
                "default": value == spec.default,
            }
        )
    return rows


def _editable(errors=None, posted=None) -> list[dict]:
    eng = engine()
    rows = []
    for spec in runtime_settings.EDITABLE:
        value = runtime_settings.get(eng, spec.section, spec.key)
        rows.append(
            {
                "spec": spec,
                "value": (posted or {}).get(spec.name, value),
                "source": runtime_settings.source(eng, spec.section, spec.key),
                "file_value": eng.settings.get(spec.section, spec.key),
                "error": (errors or {}).get(spec.name, ""),
            }
        )
    return rows


def _index(status: int = 200, errors=None, posted=None):
    eng = engine()
    return (
        render_template(
            "settings/index.html",
            rows=_global_settings(),
            editable=_editable(errors, posted),
            config_path=eng.settings.path,
            email_page=eng.settings_pages.get("email"),
        ),
        status,
    )


@bp.route("/")
def index():
    """Time zone and test mode (editable), the config.toml settings (read-only), links
    to users, audit and the email plugin's settings."""
    return _index()


@bp.route("/", methods=["POST"])
@requires("admin")
def save():
    """Save the time zone and test mode: validated, audited, no restart. Switching test
    mode re-plans the active campaigns so their waiting messages change sender."""
    eng = engine()
    who = current_user().username
    posted = {
        "app.timezone": request.form.get("timezone", ""),
        "app.test_mode": "on" if request.form.get("test_mode") else "off",
    }
    if request.form.get("reset") in runtime_settings.BY_NAME:
        name = request.form["reset"]
        old = runtime_settings.get(eng, *name.split("."))
        now = runtime_settings.reset(eng, name, by=who)
        if name == "app.test_mode" and bool(old) != bool(now):
            _replan_active()
        flash(
            f"{runtime_settings.BY_NAME[name].label}: config.toml's value ({now}) applies.",
            "success",
        )
        return redirect(url_for("settings.index"))
    errors, parsed = {}, {}
    for name, raw in posted.items():
        try:
            parsed[name] = runtime_settings.parse(name, raw)
        except runtime_settings.SettingError as exc:
            errors[name] = str(exc)
    if errors:
        flash("Nothing saved: correct the field marked below.", "error")
        return _index(422, errors, posted)
    changed = []
    for name, value in parsed.items():
        section, key = name.split(".")
        if runtime_settings.get(eng, section, key) == value:
            continue
        old, new = runtime_settings.save(eng, name, posted[name], by=who)
        changed.append(f"{runtime_settings.BY_NAME[name].label}: {old} → {new}")
        if name == "app.test_mode":
            _replan_active()
    if changed:
        flash("Saved, in force now (no restart): " + "; ".join(changed) + ".", "success")
    else:
        flash("Nothing changed.", "info")
    return redirect(url_for("settings.index"))


def _replan_active() -> None:
    """Test mode changed: every active campaign's waiting messages change sender (at
    once for small installs, else by the worker within a minute; until then a send-time
    check keeps a live message from going out in test mode)."""
    for campaign in Campaign.select().where(Campaign.status == "active"):
        replan_campaign(engine(), campaign)


def _users_page(status: int = 200, **extra):
    users = list(User.select().order_by(User.username))
    return (
        render_template(
            "settings/users.html",
            users=users,
            roles=ROLES,
            is_disabled=is_disabled,
            errors=extra.pop("errors", {}),
            values=extra.pop("values", {"role": "editor"}),
            **extra,
        ),
        status,
    )


def _user(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404, description="No such user.")
    return user


@bp.route("/users", methods=["GET", "POST"])
@requires("admin")
def users():
    """Users and roles; adding one shows its one-time password once."""
    if request.method == "GET":
        return _users_page()
    username = request.form.get("username", "").strip()
    role = request.form.get("role", "")
    values = {"username": username, "role": role}
    errors = {}
    if role not in ROLES:
        errors["role"] = f"Choose one of: {', '.join(ROLES)}."
    password = generate_password()
    if not errors:
        try:
            add_user(username, password, role, must_change=True)
        except UserError as exc:
            errors["username"] = str(exc)
    if errors:
        flash("The user was not added: correct the fields marked below.", "error")
        return _users_page(422, errors=errors, values=values)
    audit("user_added", username, f"role {role}")
    flash(f"User {username} added as {role}.", "success")
    # Rendered, not flashed: the session cookie is signed, not encrypted.
    return _users_page(one_time=(username, password))


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@requires("admin")
def user_role(user_id: int):
    """Change a user's role (the last active admin stays an admin)."""
    user = _user(user_id)
    role = request.form.get("role", "")
    old = user.role
    me = current_user()
    if (
        user.id == me.id
        and old == "admin"
        and role in ROLES
        and role != "admin"
        and request.form.get("confirm") != "yes"
        and any(
            not is_disabled(u)
            for u in User.select().where((User.role == "admin") & (User.id != me.id))
        )
    ):
        # Demoting yourself locks you out of this very page: ask first.
        return _users_page(confirm_demote={"user": user, "role": role})
    try:
        set_role(user, role)
    except UserError as exc:
        flash(str(exc), "error")
        return _users_page(422)
    audit("user_role", user.username, f"{old} -> {role}")
    flash(f"{user.username} is now {role}.", "success")
    return redirect(url_for("settings.users"))


def _act_on_another_user(user_id: int, act, verb: str, action: str, done: str):
    """Disable or delete a user: never yourself, and what ``act`` refuses is shown (422)."""
    user = _user(user_id)
    if user.id == current_user().id:
        flash(f"You cannot {verb} yourself: ask another admin.", "error")
        return _users_page(422)
    try:
        act(user)
    except UserError as exc:
        flash(str(exc), "error")
        return _users_page(422)
    audit(action, user.username)
    flash(f"{user.username} {done}.", "success")
    return redirect(url_for("settings.users"))


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@requires("admin")
def user_disable(user_id: int):
    """Block a user's sign-in and end their sessions."""
    return _act_on_another_user(
        user_id, disable_user, "disable", "user_disabled", "is disabled and signed out"
    )


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@requires("admin")
def user_enable(user_id: int):
    """Let a disabled user (or one who forgot the password) in with a new one-time password."""
    user = _user(user_id)
    password = enable_user(user)
    audit("user_password_reset", user.username)
    flash(f"{user.username} can sign in with the one-time password below.", "success")
    return _users_page(one_time=(user.username, password))


@bp.route("/users/<int:user_id>/delete", methods=["POST"])
@requires("admin")
def user_delete(user_id: int):
    """Delete a user (never yourself, never the last active admin)."""
    return _act_on_another_user(user_id, delete_user, "delete", "user_deleted", "deleted")


@bp.route("/audit")
@requires("admin")
def audit_log():
    """Who changed what, newest first, 50 per page."""
    raw = request.args.get("page", "1")
    if not is_id(raw) or int(raw) > 10**9:
        abort(400, description="page must be a number from 1 to 1000000000.")
    page = max(1, int(raw))
    query = AuditLog.select().order_by(AuditLog.at.desc(), AuditLog.id.desc())
    user = request.args.get("user", "").strip()
    if user:
        query = query.where(AuditLog.user == user)
    rows = list(query.offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE + 1))
    return render_template(
        "settings/audit.html",
        rows=rows[:AUDIT_PAGE],
        page=page,
        more=len(rows) > AUDIT_PAGE,
        user=user,
    )
