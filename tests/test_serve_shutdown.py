"""`python -m app serve` on the embedded PostgreSQL stops cleanly: SIGTERM and SIGINT drain the
requests in flight, stop the embedded server and exit 0; a handle file left by a process that
was killed does not keep a later serve from stopping it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One embedded cluster for the module (initdb once); stopped for good at the end."""
    folder = tmp_path_factory.mktemp("serve-shutdown") / "data"
    yield folder
    for process in _postgres_of(folder):
        process.kill()


def _postgres_of(data_dir: Path) -> list[psutil.Process]:
    pgdata = str((data_dir / "pg").resolve())
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if process.info["name"] == "postgres" and pgdata in cmdline:
            found.append(process)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env |= {"OMS_DATA_DIR": str(data_dir), "OMS_SCHEDULER_SECONDS": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("serve did not get ready")


def _stop(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str]:
    proc.send_signal(sig)
    try:
        _, stderr = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, stderr


def _postmaster_stopped(data_dir: Path) -> None:
    deadline = time.monotonic() + 5
    while _postgres_of(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _postgres_of(data_dir) == []
    assert not (data_dir / "pg" / "postmaster.pid").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_exits_0_and_stops_the_embedded_postgres(
    data_dir: Path, sig: signal.Signals
) -> None:
    proc, _ = _serve(data_dir)
    assert _postgres_of(data_dir) != []
    started = time.monotonic()
    code, stderr = _stop(proc, sig)
    assert code == 0, stderr[-3000:]
    assert time.monotonic() - started < 10
    _postmaster_stopped(data_dir)
    assert json.loads((data_dir / "pg" / ".handle_pids.json").read_text()) == []


def test_a_request_in_flight_when_sigterm_arrives_is_answered(data_dir: Path) -> None:
    proc, port = _serve(data_dir)
    # a request whose body is still arriving when the signal comes: it is served in full
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        body = b'{"query": "{ __typename }"}'
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        client.sendall(head + body[:5])
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        client.sendall(body[5:])
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b'"__typename":"Query"' in answer
    _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr[-3000:]
    _postmaster_stopped(data_dir)


def test_a_stale_handle_file_does_not_keep_a_later_serve_from_stopping_postgres(
    data_dir: Path,
) -> None:
    if not (data_dir / "pg" / "PG_VERSION").exists():  # run alone: make the cluster first
        assert _stop(_serve(data_dir)[0], signal.SIGINT)[0] == 0
    # a pid that no longer exists: the process that wrote it was killed (SIGKILL, OOM, ...)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    handles = data_dir / "pg" / ".handle_pids.json"
    handles.write_text(json.dumps([gone.pid]))

    proc, _ = _serve(data_dir)
    code, stderr = _stop(proc, signal.SIGINT)
    assert code == 0, stderr[-3000:]
    _postmaster_stopped(data_dir)
    assert json.loads(handles.read_text()) == []
