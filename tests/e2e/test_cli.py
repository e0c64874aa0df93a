"""The command line's error path, as an operator meets it: messages on stderr, documented
exit codes, no tracebacks, options before or after the command, quiet pipes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import api.cli
from api.auth import mint_token

ENV = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}


def tidings(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=cwd,
        timeout=120,
    )


def refused(run: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert run.returncode == code, (run.returncode, run.stdout, run.stderr)
    assert words in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_version_and_help() -> None:
    assert tidings("--version").stdout.strip() == metadata.version("tidings")
    assert tidings("version").stdout.strip() == metadata.version("tidings")
    help_text = tidings("--help").stdout
    listed = [
        line.split()[0]
        for line in help_text.splitlines()
        if line.startswith("    ") and not line.startswith("     ")
    ]
    assert listed == list(api.cli.COMMANDS) and "Exit codes" in help_text
    assert "example:" in tidings("token", "--help").stdout


def test_token_never_makes_a_secret_by_surprise(tmp_path: Path) -> None:
    data = tmp_path / "data"
    refused(tidings("token", "alice", "--data-dir", str(data)), 2, "no development secret")
    assert not data.exists() or not (data / "dev-jwt-secret").exists()
    made = tidings("--data-dir", str(data), "token", "alice", "--init")  # global option first
    assert made.returncode == 0 and made.stdout.count(".") == 2
    again = tidings("token", "alice", "--data-dir", str(data))
    assert again.returncode == 0
    refused(tidings("token", "", "--data-dir", str(data)), 2, "user ids are 1 to 128")


def test_checktoken_says_why(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    good = tidings("token", "alice", "--data-dir", data, "--init").stdout.strip()
    accepted = tidings("checktoken", good, "--data-dir", data)
    assert accepted.returncode == 0 and "accepted: user alice" in accepted.stdout
    refused(tidings("checktoken", "garbage", "--data-dir", data), 1, "refused: invalid token")
    other = mint_token("alice", secret="x" * 48, audience="tidings", issuer="tidings")
    refused(tidings("checktoken", other, "--data-dir", data), 1, "Signature verification failed")
    expired = mint_token(
        "alice",
        secret=(tmp_path / "data" / "dev-jwt-secret").read_text().strip(),
        audience="tidings",
        issuer="tidings",
        ttl_seconds=60,
        now=1_000_000,
    )
    refused(tidings("checktoken", expired, "--data-dir", data), 1, "refused: token expired")


def test_log_tools_refuse_bad_input_with_exit_2(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    refused(tidings("verify", "--acked", "missing.jsonl", "--data-dir", data), 2, "missing.jsonl")
    bad = tmp_path / "acked.jsonl"
    bad.write_text('{"eventId": "e", "roomId": "r"}\n{"roomId": "r"}\n')
    refused(tidings("verify", "--acked", str(bad), "--data-dir", data), 2, "acked.jsonl:2")
    refused(tidings("audit", "room", "general", "--data-dir", data), 2, "is not a room id")
    room = "6f1c3b1e-7d0a-4f57-9a51-2f4c9b1f7a10"
    refused(tidings("audit", "room", room, "--at-position", "-3"), 2, "not a positive number")
    refused(tidings("decode", "--data-dir", data), 2, "no event log")
    # With a log (a key written without a server): an unknown room is an error, not empty.
    created = tidings("apikey", "create", "--name", "k", "--scope", "read", "--data-dir", data)
    assert created.returncode == 0, created.stderr
    refused(tidings("audit", "room", room, "--data-dir", data), 2, f"no room {room}")


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    for i in range(30):
        tidings("apikey", "create", "--name", f"k{i}", "--scope", "read", "--data-dir", data)
    piped = subprocess.run(
        f"{sys.executable} -m api.cli decode --data-dir {data} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert piped.stdout.count("\n") == 1 and "apiKeyCreated" in piped.stdout
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_an_unexpected_error_is_one_line_unless_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(api.cli, "_decode", broken)
    before = signal.getsignal(signal.SIGPIPE)
    assert api.cli.main(["decode"]) == 3
    assert signal.getsignal(signal.SIGPIPE) == before  # this process keeps its handler
    assert "unexpected error: RuntimeError: boom" in capsys.readouterr().err
    with pytest.raises(RuntimeError):
        api.cli.main(["decode", "--debug"])
