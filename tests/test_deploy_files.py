"""deploy/: the systemd units pass ``systemd-analyze verify`` and carry the sandbox and
stop settings the README promises; the proxy examples pass the scheme on; the
production config loads and agrees with the units."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from core.config import load_settings
from core.doctor import run_checks

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
UNITS = ["followup-web.service", "followup-worker.service", "followup-backup.service"]
INSTALLED = "/opt/followup/.venv/bin/followup"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text())
    return parser


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="make test installs it")
def test_units_pass_systemd_analyze_verify(tmp_path):
    # ExecStart must exist for verify: point it at this checkout's followup command.
    followup = REPO / ".venv" / "bin" / "followup"
    assert followup.exists()
    for name in [*UNITS, "followup-backup.timer"]:
        text = (DEPLOY / name).read_text().replace(INSTALLED, str(followup))
        (tmp_path / name).write_text(text)
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    # unknown keys and bad values are only warnings to systemd: none is allowed here
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    timer = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / "followup-backup.timer")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert timer.returncode == 0 and timer.stderr.strip() == "", timer.stderr


@pytest.mark.parametrize("name", UNITS)
def test_each_unit_runs_sandboxed_as_its_own_user(name):
    service = unit(name)["Service"]
    assert service["User"] == "followup" and service["Group"] == "followup"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/followup"
    assert service["NoNewPrivileges"] == "yes" and service["PrivateTmp"] == "yes"
    assert service["ProtectHome"] == "yes" and service["UMask"] == "0077"
    assert service["EnvironmentFile"] == "/etc/followup/followup.env"
    assert service["Environment"] == "FOLLOWUP_CONFIG=/etc/followup/config.toml"
    command = service["ExecStart"].split()
    assert command[0] == INSTALLED
    from core.cli import build_parser

    build_parser().parse_args(command[1:])  # a real subcommand
    if name != "followup-backup.service":
        assert service["Restart"] in ("always", "on-failure")
        assert unit(name)["Install"]["WantedBy"] == "multi-user.target"


def test_the_worker_stops_gracefully_with_time_for_an_in_flight_send():
    service = unit("followup-worker.service")["Service"]
    assert service["KillSignal"] == "SIGINT"  # huey's graceful stop
    # longer than the slowest single send (the email channel's 60 s SMTP timeout)
    assert int(service["TimeoutStopSec"]) >= 120


def test_the_proxy_examples_pass_the_scheme_and_point_at_the_configured_port(monkeypatch):
    monkeypatch.setenv("FOLLOWUP_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("FOLLOWUP_ENCRYPTION_KEY", "A" * 43 + "=")
    settings = load_settings(DEPLOY / "config.toml", create=False)
    upstream = f"{settings.get('web', 'host')}:{settings.get('web', 'port')}"
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert re.search(rf"reverse_proxy {re.escape(upstream)} {{", caddy)
    assert "header_up X-Forwarded-Proto {scheme}" in caddy
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert f"proxy_pass http://{upstream};" in nginx
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in nginx
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in nginx
    assert "return 301 https://" in nginx
    # Caddy and nginx above are one proxy: the one Followup trusts
    assert settings.get("web", "trusted_proxies") == 1


def test_the_production_config_matches_the_units(monkeypatch):
    monkeypatch.setenv("FOLLOWUP_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("FOLLOWUP_ENCRYPTION_KEY", "A" * 43 + "=")
    settings = load_settings(DEPLOY / "config.toml", create=False)
    assert str(settings.data_dir) == "/var/lib/followup"
    assert settings.database_url == "sqlite:////var/lib/followup/followup.db"
    assert settings.get("web", "host") == "127.0.0.1"
    assert settings.get("app", "log_format") == "json"
    for section, key, spec in settings.sources:
        assert "env" in spec, f"[{section}] {key} should come from the environment file"
        assert spec["env"] in (DEPLOY / "followup.env.example").read_text()
    # and doctor reads it without creating anything (no /var/lib/followup here)
    lines = list(run_checks(str(DEPLOY / "config.toml")))
    assert lines[0] == (True, "config", f"{DEPLOY / 'config.toml'} is valid")
    if not Path("/var/lib/followup").exists():
        assert lines[1][:2] == (False, "data folder") and len(lines) == 2
