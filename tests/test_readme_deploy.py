"""The README's "Deploy on a VPS" walks a seller through a fresh Debian server. Every
command in it is checked here: each block parses as shell, each command exists (here, or
from a package an earlier step installs), each ``followup-admin`` subcommand and each
file or unit it names is real; and the steps that can run on a test machine run, in a
temporary folder standing in for /etc/followup, /var/lib/followup and /opt/followup:
config and secrets, init, doctor, backup, restore, upgrade, the proxy and PostgreSQL
edits. Not run here: apt-get, useradd, git clone, systemctl, journalctl, rsync, curl to
the seller's domain, and PostgreSQL's createuser/createdb (they change the machine).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from core.cli import build_parser
from core.config import load_settings

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
# Lines whose commands change the machine (packages, users, services, other hosts).
NOT_RUN = ("apt-get", "useradd", "git", "python3", "/opt/followup/.venv/bin/pip", "systemctl",
           "journalctl", "rsync", "curl", "runuser", "REPO_URL=", "cp")  # fmt: skip


def section() -> str:
    start = README.index("## Deploy on a VPS")
    end = README.index("\n## ", start + 5)
    return README[start:end]


def blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section(), re.S)


def commands(block: str) -> list[list[str]]:
    """Each command line of a block as words (comments dropped)."""
    out = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(words)
    return out


def installed_by_apt() -> set[str]:
    names = set()
    for block in blocks():
        for words in commands(block):
            if words[:3] == ["apt-get", "install", "-y"]:
                names.update(words[3:])
    return names


def test_the_section_has_every_step():
    text = section()
    for step in ("system user", "Install Followup", "Configuration and secrets", "first admin",
                 "The services", "HTTPS with Caddy", "First login", "Backups", "Upgrades",
                 "PostgreSQL and Redis"):  # fmt: skip
        assert step in text, step
    assert len(blocks()) >= 9


@pytest.mark.parametrize("index", range(10))
def test_every_block_parses_and_names_real_commands_files_and_units(index):
    block = blocks()[index]
    parsed = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    from_apt = installed_by_apt()
    for words in commands(block):
        while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value prefixes
            words = words[1:]
        if not words:
            continue
        name = words[0]
        if name == "followup-admin":
            build_parser().parse_args(words[1:])  # a real subcommand with real options
        elif name.startswith("/opt/followup/"):
            assert name == "/opt/followup/.venv/bin/pip"  # made by step 2's venv
        elif name not in ("umask", "echo", "cd"):
            assert shutil.which(name) or name in from_apt, f"{name}: not a command here"
        for word in words[1:]:
            if word.startswith("/opt/followup/") and word != "/opt/followup/.venv":
                local = REPO / word[len("/opt/followup/") :]
                assert local.exists() or word == "/opt/followup", f"{word} is not in the repo"
        if name == "systemctl":
            for word in words[2:]:
                if word.startswith("followup-"):
                    unit = word if "." in word else f"{word}.service"
                    assert (REPO / "deploy" / unit).exists(), unit
        if name == "useradd":
            help_text = subprocess.run(["useradd", "--help"], capture_output=True, text=True)
            for option in (w for w in words if w.startswith("--")):
                assert option in help_text.stdout, option


def admin(tmp_path: Path) -> str:
    """A shell function standing in for /usr/local/bin/followup-admin, on tmp_path."""
    env = (
        f"FOLLOWUP_ETC={tmp_path}/etc FOLLOWUP_HOME={tmp_path}/var "
        f"FOLLOWUP_APP={REPO} FOLLOWUP_USER=$(id -un)"
    )
    return f'followup-admin() {{ {env} sh {REPO}/deploy/followup-admin "$@"; }}\n'


def runnable(block: str, tmp_path: Path, archive: str = "") -> str:
    """The block's lines that can run here, on tmp_path instead of the server's paths."""
    lines = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0].startswith(NOT_RUN):
            continue
        line = line.replace("/etc/followup", f"{tmp_path}/etc")
        line = line.replace("/var/lib/followup", f"{tmp_path}/var")
        line = line.replace("/opt/followup", str(REPO))
        line = line.replace("root:followup", f"{os.getuid()}:{os.getgid()}")  # no such group
        if archive:
            line = re.sub(r"\S*followup-backup-\d{8}T\d{6}Z\.tar\.gz", archive, line)
        lines.append(line)
    return "set -eu\n" + admin(tmp_path) + "\n".join(lines) + "\n"


def run(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    proc = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert proc.returncode == 0, f"{script}\n---\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_the_runnable_steps_run_on_a_stand_in_server(tmp_path):
    steps = blocks()
    (tmp_path / "var").mkdir(mode=0o700)  # step 1's install -d (the user is ours here)
    # step 3: config and secrets; the server's data folder becomes tmp_path/var
    run(runnable(steps[2], tmp_path), tmp_path)
    config = tmp_path / "etc" / "config.toml"
    config.write_text(config.read_text().replace("/var/lib/followup", f"{tmp_path}/var"))
    env_file = tmp_path / "etc" / "followup.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o640
    assert re.fullmatch(
        r"FOLLOWUP_SECRET_KEY=\S{40,}\nFOLLOWUP_ENCRYPTION_KEY=\S{43}=\n", env_file.read_text()
    )
    assert 'timezone = "Europe/Berlin"' in config.read_text()
    # step 4: init prints the one-time password; doctor finds nothing to fix
    first = run(runnable(steps[3], tmp_path), tmp_path)
    assert "one-time password:" in first.stdout
    assert "all checks passed" in first.stdout, first.stdout
    # step 6: the Caddyfile edit puts the seller's domain in
    caddy = tmp_path / "Caddyfile"
    shutil.copy(REPO / "deploy" / "Caddyfile", caddy)
    sed = next(w for w in commands(steps[5]) if w[0] == "sed")
    subprocess.run([*sed[:-1], str(caddy)], check=True)
    assert "admin.your-shop.com {" in caddy.read_text()
    # step 8: backup, then restore that archive and migrate
    first_line = "\n".join(steps[7].splitlines()[:1])
    assert first_line == "followup-admin backup"
    backup = run(runnable(first_line, tmp_path), tmp_path)
    archive = re.search(r"backup written: (\S+)", backup.stdout).group(1)
    # the block's backup ran; now the restore lines with the archive it wrote
    restore = [ln for ln in steps[7].splitlines() if "restore" in ln or ln.endswith(" init")]
    restored = run(runnable("\n".join(restore), tmp_path, archive), tmp_path)
    assert "database: restored to" in restored.stdout
    # step 9: the upgrade's backup, init and doctor
    upgraded = run(runnable(steps[8], tmp_path), tmp_path)
    assert "all checks passed" in upgraded.stdout, upgraded.stdout
    # step 10: the config edit switches to PostgreSQL over the socket and Redis
    sed = next(w for w in commands(steps[9]) if w[0] == "sed")
    subprocess.run([*sed[:-1], str(config)], check=True)
    os.environ.update(dict(line.split("=", 1) for line in env_file.read_text().splitlines()))
    try:
        settings = load_settings(config, create=False)
    finally:
        for name in ("FOLLOWUP_SECRET_KEY", "FOLLOWUP_ENCRYPTION_KEY"):
            os.environ.pop(name, None)
    assert settings.database_url == "postgresql://followup@/followup"
    assert settings.get("queue", "backend") == "redis"
