"""uvicorn's httptools protocol with a bound on the request head.

llhttp (under httptools) has no limit on the size of a request line and headers: a client
could send a megabyte of headers and uvicorn would buffer all of it. This protocol counts
the bytes of the head as they arrive and answers 431 as soon as they pass the limit,
before the rest is read (WebSocket handshakes pass through here too).
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["bounded_http_protocol"]

END_OF_HEAD = b"\r\n\r\n"


class _BoundedHeadProtocol(HttpToolsProtocol):
    max_head_bytes = 16 * 1024

    _head_bytes = 0
    _in_head = True
    _refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            end = data.find(END_OF_HEAD)
            size = len(data) if end < 0 else end + len(END_OF_HEAD)
            self._head_bytes += size
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # the next request on a kept-alive connection
        self._head_bytes = 0

    def _refuse_head(self) -> None:
        message = f"request heads are limited to {self.max_head_bytes} bytes"
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            + f"content-length: {len(message)}\r\n".encode()
            + b"connection: close\r\n\r\n"
            + message.encode()
        )
        self.transport.close()
        self._refused = True  # nothing more is parsed


def bounded_http_protocol(max_head_bytes: int) -> type[HttpToolsProtocol]:
    """A protocol class for ``uvicorn.run(http=...)`` refusing heads over the limit."""
    return type("BoundedHeadProtocol", (_BoundedHeadProtocol,), {"max_head_bytes": max_head_bytes})
