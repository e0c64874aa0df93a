"""The built wheel, installed in a fresh virtual environment away from the source tree,
serves the chat page, the admin page, the JS client and the API docs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.server import free_port

ROOT = Path(__file__).resolve().parents[2]

WITHOUT_DISTRIBUTED = """
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("aiokafka", "faust", "cassandra"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Absent())
"""


def test_the_wheel_serves_everything_from_outside_the_checkout(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("tidings-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The dependencies come from this environment's site-packages (no network needed); the
    # package itself only from the wheel.
    site = next((venv / "lib").glob("python3*/site-packages"))
    deps = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    (site / "deps.pth").write_text(deps + "\n")
    # As `pip install tidings` without the [distributed] extra: those libraries are absent.
    (site / "sitecustomize.py").write_text(WITHOUT_DISTRIBUTED)
    python = venv / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    where = subprocess.run(
        [python, "-c", "import api; print(api.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(venv) in where, where  # not the checkout
    port = free_port()
    server = subprocess.Popen(
        [venv / "bin" / "tidings", "serve", "--port", str(port), "--data-dir", "data"],
        cwd=tmp_path,
        env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "did not start"
            time.sleep(0.2)
        for path, marker in [
            ("/", "Tidings chat"),
            ("/web/app.js", "TidingsClient"),
            ("/client/tidings.js", "export class TidingsClient"),
            ("/admin", "Tidings admin"),
            ("/admin/admin.js", "/api"),
            ("/docs", "swagger-ui-bundle.js"),
            ("/static/docs/swagger-ui-bundle.js", "SwaggerUI"),
            ("/api/openapi.json", "Tidings server API"),
        ]:
            answer = httpx.get(base + path)
            assert answer.status_code == 200 and marker in answer.text, path
        distributed = subprocess.run(
            [venv / "bin" / "tidings", "migrate"], cwd=tmp_path, capture_output=True, text=True
        )
        assert distributed.returncode == 2
        assert "pip install 'tidings[distributed]'" in distributed.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
