"""The `make run` path: an embedded PostgreSQL whose data survives restarts, demo data once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _event(stderr: str, name: str) -> dict[str, object]:
    for line in stderr.splitlines():
        if line.startswith("{") and json.loads(line).get("event") == name:
            return dict(json.loads(line))
    raise AssertionError(f"no {name} event in:\n{stderr}")


@pytest.mark.slow
def test_demo_data_in_the_embedded_database_survives_a_restart_without_duplicates(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env |= {"OMS_DATA_DIR": str(data_dir), "OMS_LOG_JSON": "true"}
    first = _run(["demo-data"], env)
    assert first.returncode == 0, first.stderr
    assert _event(first.stderr, "database")["embedded"] is True
    created = _event(first.stderr, "demo_data_loaded")["products_created"]
    assert isinstance(created, int)
    assert created >= 8
    assert (data_dir / "pg" / "PG_VERSION").exists()

    second = _run(["demo-data"], env)
    assert second.returncode == 0, second.stderr
    assert _event(second.stderr, "demo_data_loaded")["products_created"] == 0


def test_create_api_key_prints_a_key_once_and_rejects_unknown_scopes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env |= {"OMS_DATA_DIR": str(tmp_path / "data")}
    bad = _run(["create-api-key", "--scope", "root"], env)
    assert bad.returncode == 2
    assert "unknown scopes" in bad.stderr
    good = _run(["create-api-key", "--scope", "ops", "--name", "ci"], env)
    assert good.returncode == 0, good.stderr
    key = good.stdout.strip()
    assert key.startswith("oms_")
    assert len(key) > 40


@pytest.mark.slow
def test_serve_with_two_workers_runs_two_processes_against_one_database(tmp_path: Path) -> None:
    import socket
    import time
    import urllib.request

    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env |= {"OMS_DATA_DIR": str(tmp_path / "data"), "OMS_WORKERS": "2", "OMS_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--demo-data"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = b'{"query": "{ products(first: 1) { edges { node { sku } } } }"}'
        answered = 0
        deadline = time.time() + 60
        while time.time() < deadline and answered < 5:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert b"AURORA-HP" in response.read()
                answered += 1
            except OSError:
                time.sleep(0.2)
        assert answered == 5
        workers = [
            child
            for child in psutil.Process(proc.pid).children(recursive=True)
            if "spawn_main" in " ".join(child.cmdline())
        ]
        assert len(workers) == 2
    finally:
        proc.send_signal(2)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr[-2000:]
