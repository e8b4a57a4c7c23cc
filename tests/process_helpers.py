"""The service as it runs for real: ``python -m app ...`` in a child process, its log lines
(stderr) in a file the test reads. No tests here."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any ``OMS_*`` setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    return env | settings


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_clis(
    runs: list[tuple[list[str], dict[str, str]]],
) -> list[subprocess.CompletedProcess[str]]:
    """Independent ``run_cli`` calls side by side (each start is seconds of imports and
    migrations), their results in the order given."""
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        return list(pool.map(lambda run: run_cli(*run), runs))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServedProcess:
    base_url: str
    log_file: Path

    def text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def mark(self) -> int:
        """Where the log ends now: ``lines(since=...)`` reads what came after."""
        return len(self.text())

    def lines(self, since: int = 0) -> list[str]:
        return self.text()[since:].splitlines()

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """The JSON log lines written after ``since`` (every line must be JSON)."""
        return [json.loads(line) for line in self.lines(since) if line.strip()]

    async def wait_for(
        self,
        event: str,
        since: int = 0,
        seconds: float = 10,
        match: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The first line with this ``event`` (and the fields of ``match``) written after
        ``since``."""
        wanted = match or {}
        for _ in range(int(seconds * 20)):
            for line in self.events(since):
                if line.get("event") == event and all(line.get(k) == v for k, v in wanted.items()):
                    return line
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {event!r} line in:\n{self.text()[since:]}")


@contextlib.asynccontextmanager
async def served(env: dict[str, str], log_file: Path) -> AsyncIterator[ServedProcess]:
    """``python -m app serve`` on a free port until it answers ``/readyz``; stopped (SIGINT)
    at the end."""
    port = free_port()
    with log_file.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app",
            "serve",
            "--port",
            str(port),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )
    process = ServedProcess(f"http://127.0.0.1:{port}", log_file)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                if proc.returncode is not None:
                    raise AssertionError(f"the server exited:\n{process.text()}")
                try:
                    if (await client.get(process.base_url + "/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"the server did not start:\n{process.text()}")
        yield process
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
