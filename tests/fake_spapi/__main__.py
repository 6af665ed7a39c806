"""Run the fake SP-API in the foreground: ``python -m tests.fake_spapi --port 8765
--orders 40``. Connect an account in the web admin with endpoint = the logged URL, LWA
URL = URL + /auth/o2/token, refresh token ``good-refresh-token`` (any client id/secret).
"""

from __future__ import annotations

import argparse
import logging

from .server import FakeSPAPI

log = logging.getLogger("tests.fake_spapi")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_spapi", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--orders", type=int, default=40, help="seeded orders (DE)")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    server = FakeSPAPI(port=args.port, host=args.host)
    server.page_size = args.page_size
    server.seed(args.orders)
    log.info("fake SP-API serving %d orders on %s", args.orders, server.url)
    log.info("LWA token URL: %s/auth/o2/token (refresh token: good-refresh-token)", server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
