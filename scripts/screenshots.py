"""Take the README's screenshots: demo data in a temp install, Debian's Chromium.

Usage: .venv/bin/python scripts/screenshots.py [output folder, default docs/screenshots]
                                               [more page names, e.g. messages templates]
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from waitress.server import create_server

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.campaigns import create_from_preset  # noqa: E402
from core.config import settings_from_dict  # noqa: E402
from core.demo import load_demo  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.models import Decision, User  # noqa: E402
from core.passwords import hash_password  # noqa: E402
from web import create_app  # noqa: E402

ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(out: Path, extra: tuple[str, ...] = ()) -> None:
    """Screenshots into ``out``; ``extra`` names more pages (e.g. "messages") to take."""
    tmp = Path(tempfile.mkdtemp())
    cfg = {
        "app": {"data_dir": str(tmp)},
        "web": {"secret_key": {"file": str(tmp / "s"), "generate": True}},
        "database": {"url": f"sqlite:///{tmp / 'db.sqlite'}"},
        "queue": {"backend": "memory"},
        "security": {"encryption_key": {"file": str(tmp / "k"), "generate": True}},
        "plugins": {
            "enabled": ["amazon", "demo", "sequences", "review_timing"],
            "entrypoints": False,
        },
    }
    engine = Engine(settings_from_dict(cfg, tmp / "config.toml"))
    engine.migrate()
    User.create(
        username="admin", password_hash=hash_password("screenshot-pass"), must_change_password=False
    )
    load_demo(engine)
    # The demo's personalised products, so the FBM preset's customization step has orders
    # to preview on (a seller fills these lists on the Plugins page).
    engine.set_plugin_setting("sequences", "customized_skus", "ENGR-CUTBOARD\nHANKO-CUSTOM")
    skipped = Decision.select().where(Decision.outcome == "excluded").first()
    preset = next(p for p in engine.presets("US", "FBM") if len(p.steps) > 1)
    campaign = create_from_preset(engine, preset)
    step = next(s for s in campaign.steps if s.template_id)
    server = create_server(create_app(engine=engine), host="127.0.0.1", port=0)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}"
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/login")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("screenshot-pass")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(url + "/")
        page.screenshot(path=str(out / "dashboard.png"), full_page=True)
        page.goto(f"{url}/orders/")
        page.screenshot(path=str(out / "orders.png"))
        page.goto(f"{url}/orders/{skipped.order_id}")
        page.screenshot(path=str(out / "order-trace.png"), full_page=True)
        page.goto(f"{url}/campaigns/{campaign.id}")
        page.screenshot(path=str(out / "campaign.png"), full_page=True)
        page.goto(f"{url}/campaigns/{campaign.id}/steps/{step.id}")
        page.screenshot(path=str(out / "campaign-editor.png"), full_page=True)
        for name in extra:
            page.goto(f"{url}/{name}/")
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        browser.close()
    server.close()


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots",
        tuple(sys.argv[2:]),
    )
