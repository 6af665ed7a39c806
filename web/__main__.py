"""``python -m web``: serve the admin with waitress on the configured host and port."""

from __future__ import annotations

import os
import sys

from waitress import serve

from core.config import ConfigError, load_settings
from core.logs import configure_from_settings, configure_logging

from . import create_app


def main() -> int:
    os.umask(0o077)  # files the web process writes are private (core/files.py)
    configure_logging("INFO")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_from_settings(settings)
    app = create_app(settings)
    serve(
        app,
        host=settings.get("web", "host"),
        port=settings.get("web", "port"),
        threads=settings.get("web", "threads"),
        ident="followup",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
