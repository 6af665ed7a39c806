"""``python -m web``: serve the admin with waitress on the configured host and port."""

from __future__ import annotations

import logging
import sys

from waitress import serve

from core.config import ConfigError, load_settings

from . import create_app


def main() -> int:
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
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
