"""The admin web UI (/admin) in headless Chromium against a distributed stack: it lists
both gateways, and its disconnect reaches a user held by the other gateway. (`npm test` in
clients/js runs the same operator flow against the embedded server.)"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

from tests.e2e.conftest import FAST
from tests.e2e.server import DistributedStack, run_cli

JS = Path(__file__).resolve().parents[2] / "clients" / "js"


def test_admin_ui_in_distributed_mode(tmp_path: Path) -> None:
    stack = DistributedStack(tmp_path / "stack", FAST).start()
    try:
        create = run_cli(stack, "apikey", "create", "--name", "ops", "--scope", "admin")
        code, key = asyncio.run(create)
        assert code == 0
        env = {
            **os.environ,
            "TIDINGS_HTTP": stack.http_urls[0],
            "TIDINGS_URLS": ",".join(stack.ws_urls),
            "TIDINGS_ADMIN_KEY": key.strip(),
            "TIDINGS_TOKENS": json.dumps(
                {user: stack.token(user) for user in ("alice", "bob", "mallory")}
            ),
        }
        run = subprocess.run(
            ["node", "--test", "test/admin-distributed.mjs"],
            cwd=JS,
            env=env,
            capture_output=True,
            timeout=150,
        )
        assert run.returncode == 0, run.stdout.decode()[-4000:] + run.stderr.decode()[-2000:]
    finally:
        stack.stop()
