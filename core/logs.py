"""Logging set-up shared by every process (web, worker, CLI).

``[app] log_level`` sets the level and ``[app] log_format`` the shape: ``text`` (one
human line) or ``json`` (one JSON object a line, for journald and log shippers). The
environment variable ``FOLLOWUP_LOG_LEVEL`` overrides the level for one run.

Fields passed with ``extra=`` (see ``FIELDS``) become JSON keys, so an operator can
filter the dispatcher's lines by message, order, campaign or channel.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

LEVEL_ENV = "FOLLOWUP_LOG_LEVEL"
FORMAT_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The structured fields the dispatcher (and others) attach with ``extra=``.
FIELDS = ("event", "message_id", "order_id", "campaign_id", "channel", "account_id", "state")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the
    ``FIELDS`` present on the record and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """(Re)configure the root logger: one stderr handler at ``level`` in ``fmt``.

    Called once settings are known; calling it again replaces the handler, so the
    CLI's early default gives way to the configured level."""
    level = os.environ.get(LEVEL_ENV) or level
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_followup", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._followup = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(FORMAT_TEXT))
    root.addHandler(handler)
    root.setLevel(level.upper())


def configure_from_settings(settings) -> None:
    """``configure_logging`` with ``[app] log_level`` and ``[app] log_format``."""
    configure_logging(settings.get("app", "log_level"), settings.get("app", "log_format"))
