"""``/healthz`` and ``/metrics``: for the operator's monitoring, not for people.

* ``/healthz`` needs no login and shows no data: one line per check (database, queue,
  worker heartbeat, overdue due messages) and 200 when all pass, 503 otherwise, so an
  uptime checker or a load balancer can act on the status code alone.
* ``/metrics`` is Prometheus' text format (``core.metrics``). Off unless ``[metrics]
  enabled = true``; then it needs ``Authorization: Bearer <[metrics] token>``.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, request

from core import heartbeat, metrics
from core.heartbeat import OVERDUE_AFTER, WORKER_STALE, describe_age

bp = Blueprint("health", __name__)


def _runtime():
    return current_app.extensions["followup_runtime"]


def _checks() -> list[tuple[str, bool, str]]:
    engine = current_app.extensions["followup"]
    checks: list[tuple[str, bool, str]] = []
    try:
        engine.db.execute_sql("SELECT 1")
        checks.append(("database", True, "ok"))
    except Exception:  # noqa: BLE001 - any failure is "down"; details are for the logs
        current_app.logger.exception("healthz: database check failed")
        return [("database", False, "cannot be reached")]
    try:
        _runtime().huey.pending_count()
        checks.append(("queue", True, "ok"))
    except Exception:  # noqa: BLE001
        current_app.logger.exception("healthz: queue check failed")
        checks.append(("queue", False, "cannot be reached"))
    seen = heartbeat.last_worker()
    if seen is None:
        checks.append(("worker", False, "has never run"))
    elif seen.age() > WORKER_STALE:
        checks.append(("worker", False, f"last seen {describe_age(seen.age())} ago"))
    else:
        checks.append(("worker", True, f"ok, last seen {describe_age(seen.age())} ago"))
    count, _ = heartbeat.overdue()
    if count:
        limit = int(OVERDUE_AFTER.total_seconds() // 60)
        checks.append(("due messages", False, f"waiting more than {limit} min past due"))
    else:
        checks.append(("due messages", True, "ok"))
    return checks


@bp.get("/healthz")
def healthz():
    """200 with "ok" lines when every check passes, 503 naming what failed."""
    checks = _checks()
    body = "".join(f"{name}: {detail}\n" for name, _, detail in checks)
    healthy = all(ok for _, ok, _ in checks)
    return Response(
        body,
        status=200 if healthy else 503,
        mimetype="text/plain",
        headers={"Cache-Control": "no-store"},
    )


@bp.get("/metrics")
def metrics_view():
    """Prometheus text format, behind the bearer token of ``[metrics] token``."""
    settings = current_app.extensions["followup"].settings
    if not settings.get("metrics", "enabled"):
        abort(404)
    token = settings.get("metrics", "token") or ""
    sent = request.headers.get("Authorization", "")
    if not (sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].strip(), token)):
        return Response(
            "a bearer token is required: Authorization: Bearer <[metrics] token>\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    try:
        pending = _runtime().huey.pending_count()
    except Exception:  # noqa: BLE001 - the queue's own health is /healthz's business
        pending = None
    return Response(
        metrics.render(pending),
        mimetype="text/plain; version=0.0.4",
        headers={"Cache-Control": "no-store"},
    )
