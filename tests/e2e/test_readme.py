"""The README's quickstart, run as a new user would: its chat.py saved as written, two
terminals (alice and bob) as subprocesses, bob stopped with Ctrl-C and resumed exactly,
the server stopped under them, and the SDK snippet."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from queue import Empty, Queue

import httpx
import pytest

from tests.e2e.server import free_port

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
WAIT = 30.0


def block_after(marker: str, language: str) -> str:
    """The first ``language`` code block after ``marker`` in the README."""
    start = README.index(marker)
    found = re.search(rf"```{language}\n(.*?)```", README[start:], re.S)
    assert found, f"no {language} block after {marker!r}"
    return found.group(1)


class Terminal:
    """A command in its own process, its output read line by line."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: Queue[str] = Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def expect(self, wanted: str) -> list[str]:
        """The lines up to and including the first that contains ``wanted``."""
        seen: list[str] = []
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except Empty:
                continue
            seen.append(line)
            if wanted in line:
                return seen
        raise AssertionError(f"{wanted!r} not printed in {WAIT} s; printed {seen}")

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it (to the foreground process group)."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], subprocess.Popen[bytes]]]:
    """A development-mode server (as `make run` starts it) and a fresh working directory."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env["TIDINGS_URL"] = f"ws://127.0.0.1:{port}/v1/ws"
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"},
    )
    deadline = time.monotonic() + WAIT
    while not _ready(f"http://127.0.0.1:{port}/readyz"):
        assert time.monotonic() < deadline and server.poll() is None, "server did not start"
        time.sleep(0.2)
    work = tmp_path / "work"
    work.mkdir()
    (work / "chat.py").write_text(block_after("Save this as `chat.py`", "python"))
    (work / ".venv").symlink_to(sys.prefix)  # the project's virtual environment
    yield work, env, server
    if server.poll() is None:
        server.terminate()
        server.wait(timeout=30)


def test_the_two_terminal_chat_runs_as_written(
    quickstart: tuple[Path, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    work, env, server = quickstart
    commands = [
        line.split("#")[0].strip()
        for line in block_after("```python\nimport asyncio, json, os, sys", "bash").splitlines()
        if line.strip()
    ]
    assert commands == [
        ".venv/bin/python chat.py alice general",
        ".venv/bin/python chat.py bob general",
    ]
    alice = Terminal(commands[0], work, env)
    alice.expect("connected:")  # a person starts the second terminal after the first
    bob = Terminal(commands[1], work, env)
    try:
        bob.expect("connected:")
        alice.type("hello bob")
        bob.expect("alice: hello bob")
        assert bob.interrupt() == 0 or bob.process.returncode == -signal.SIGINT
        for text in ("one", "two", "three"):
            alice.type(text)
        alice.expect("alice: three")
        bob = Terminal(commands[1], work, env)  # the same room, not a second one
        before = bob.expect("alice: three")
        assert "connected: RECOVERY_RECOVERED" in before[0], before
        assert [line for line in before if line.startswith("alice:")] == [
            "alice: one",
            "alice: two",
            "alice: three",
        ]
        bob.type("back")
        alice.expect("bob: back")
        server.send_signal(signal.SIGKILL)  # the server goes away under them
        alice.expect("disconnected:")
        assert alice.process.wait(timeout=WAIT) == 0
    finally:
        alice.kill()
        bob.kill()


def test_the_sdk_snippet_runs(
    quickstart: tuple[Path, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    work, env, _ = quickstart
    snippet = block_after("resume by themselves", "python")
    (work / "sdk.py").write_text(snippet.replace("ws://127.0.0.1:8000/v1/ws", env["TIDINGS_URL"]))
    http = env["TIDINGS_URL"].replace("ws", "http", 1).removesuffix("/v1/ws")
    token = (
        subprocess.run(
            [
                "curl",
                "-s",
                "-XPOST",
                f"{http}/dev/token",
                "-H",
                "content-type: application/json",
                "-d",
                '{"userId": "carol"}',
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.split('"token":"')[1]
        .split('"')[0]
    )
    room = (
        subprocess.run(
            [
                "curl",
                "-s",
                "-XPOST",
                f"{http}/v1/rooms",
                "-H",
                "content-type: application/json",
                "-H",
                f"Authorization: Bearer {token}",
                "-d",
                '{"name": "sdk"}',
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.split('"roomId":"')[1]
        .split('"')[0]
    )
    sdk = Terminal(f"{sys.executable} sdk.py {token} {room}", work, env)
    try:
        sdk.expect("hello")
    finally:
        sdk.kill()
