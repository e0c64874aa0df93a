"""The ``tidings`` command: serve, token, version."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["main"]


def _settings(args: argparse.Namespace) -> object:
    from api.settings import Settings

    overrides = {
        key: value
        for key, value in (
            ("data_dir", args.data_dir),
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
        )
        if value is not None
    }
    return Settings(**overrides)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    settings = _settings(args)
    assert isinstance(settings, Settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    from api.auth import mint_token
    from api.settings import Settings

    settings = _settings(args)
    assert isinstance(settings, Settings)
    if not settings.development_mode and settings.jwt_secret is None:
        print("tokens can only be minted with an HS256 secret", file=sys.stderr)
        return 2
    secret = settings.jwt_secret or settings.development_secret()
    print(
        mint_token(
            args.user,
            secret=secret,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            ttl_seconds=args.ttl,
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tidings", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run Tidings embedded (log and projections in SQLite)")
    serve.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8000)")
    serve.set_defaults(func=_serve)

    token = sub.add_parser("token", help="mint a development JWT for a user")
    token.add_argument("user")
    token.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    token.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds")
    token.set_defaults(func=_token)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=lambda _: print(metadata.version("tidings")) or 0)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
