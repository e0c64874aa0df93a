"""A test HTTP endpoint for webhooks on 127.0.0.1: records each POST (headers and JSON
body); it can be told to listen only later, to play an endpoint that is down."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["WebhookReceiver", "reserve_port"]


def reserve_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


Answer = Callable[[dict[str, Any]], tuple[int, Any, float]]
"""body -> (status, JSON answer or None, seconds to wait before answering)."""


class WebhookReceiver:
    def __init__(self, port: int | None = None, answer: Answer | None = None) -> None:
        self.port = port or reserve_port()
        self.answer = answer
        self.received: list[tuple[dict[str, str], dict[str, Any], bytes]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                event = json.loads(body)
                with receiver._lock:
                    receiver.received.append((dict(self.headers), event, body))
                if receiver.answer is None:
                    self.send_response(204)
                    self.end_headers()
                    return
                status, answer, delay = receiver.answer(event)
                time.sleep(delay)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)  # a caller that gave up has gone

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for _, event, _ in self.received]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
