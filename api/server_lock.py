"""One embedded server per data directory: it holds an exclusive lock on ``server.lock``
for as long as it runs (the embedded log has one writer), and leaves the operator's tools
a key to reach it with in ``operator.key`` (0600, like the development secret)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from api.apikeys import NewKey

__all__ = ["LOCK_FILE", "OPERATOR_KEY_FILE", "DataDirLock", "read_operator_key"]

LOCK_FILE = "server.lock"
OPERATOR_KEY_FILE = "operator.key"


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Takes the lock unless another process holds it."""
        fd = os.open(self._data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def leave_operator_key(self, key: NewKey, url: str) -> None:
        path = self._data_dir / OPERATOR_KEY_FILE
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"{url}\n{key.text}\n")

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self._data_dir / OPERATOR_KEY_FILE).unlink()
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def read_operator_key(path: Path) -> tuple[str, str]:
    """The running server's URL and operator key."""
    url, key = path.read_text().split()
    return url, key
