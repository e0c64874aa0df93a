"""The JavaScript client against distributed mode: failover after a gateway is SIGKILLed.

(`npm test` in clients/js covers the embedded server killed and restarted, and the web page
in Chromium; `make test` runs both.)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.e2e.conftest import FAST, Rest
from tests.e2e.server import DistributedStack

JS = Path(__file__).resolve().parents[2] / "clients" / "js"


def test_js_client_fails_over_and_resumes_in_distributed_mode(tmp_path: Path) -> None:
    stack = DistributedStack(tmp_path / "stack", FAST).start()
    try:
        room_id = Rest(stack, "alice").create_room("js")
        Rest(stack, "alice").post(f"/v1/rooms/{room_id}/members", {"userId": "bob"})
        gateway0 = stack.gateways[0].popen
        assert gateway0 is not None
        env = {
            **os.environ,
            "TIDINGS_URLS": ",".join(stack.ws_urls),
            "TIDINGS_TOKEN_ALICE": stack.token("alice"),
            "TIDINGS_TOKEN_BOB": stack.token("bob"),
            "TIDINGS_KILL_PID": str(gateway0.pid),
            "TIDINGS_ROOM": room_id,
        }
        run = subprocess.run(
            ["node", "--test", "test/distributed.mjs"],
            cwd=JS,
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout.decode()[-3000:] + run.stderr.decode()[-2000:]
    finally:
        stack.stop()
