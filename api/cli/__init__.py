"""The ``tidings`` command.

serve      run Tidings; embedded by default (TIDINGS_MODE=distributed for a gateway)
gateway    run a stateless gateway in distributed mode (Kafka + Cassandra)
processor  run the command processor and the Faust projectors (distributed mode)
migrate    create the Kafka topics and the Cassandra schema (idempotent)
decode     print the event log as JSON lines
verify     check acknowledged sends, the log and the projections against each other
replay     rebuild the projections from the log into a new SQLite file or keyspace
audit      a room as of a position or time, who received and read a message, export history
apikey     create, list and revoke API keys for the server API
token      mint a development JWT
version    print the version
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from api.settings import Settings
from projections.store import StoreUnavailable
from streams.log import LogUnavailable

__all__ = ["main"]


def _settings(args: argparse.Namespace, **forced: Any) -> Settings:
    overrides = {
        key: value
        for key, value in (
            ("data_dir", getattr(args, "data_dir", None)),
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
        )
        if value is not None
    }
    return Settings(**overrides, **forced)


def _serve(args: argparse.Namespace, **forced: Any) -> int:
    import uvicorn

    from api.app import create_app
    from api.http_protocol import bounded_http_protocol
    from api.logs import hide_query_strings
    from api.ws_transport import DirectWriteProtocol

    settings = _settings(args, **forced)
    settings.check_listen()
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        http=bounded_http_protocol(settings.max_header_bytes),
        ws=DirectWriteProtocol,
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
        ssl_certfile=settings.tls_certfile,
        ssl_keyfile=settings.tls_keyfile,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
    )
    hide_query_strings()  # after uvicorn configured its loggers
    uvicorn.Server(config).run()
    return 0


def _gateway(args: argparse.Namespace) -> int:
    return _serve(args, mode="distributed")


def _migrate(args: argparse.Namespace) -> int:
    from api.runtime import open_backend

    for line in asyncio.run(open_backend(_settings(args, mode="distributed")).migrate()):
        print(line)
    return 0


def _processor(args: argparse.Namespace) -> int:
    from api.logs import configure_logging
    from api.runtime import open_backend

    settings = _settings(args, mode="distributed")
    configure_logging(settings.log_level)
    return open_backend(settings).run_processor(with_commands=not args.no_commands)


def _decode(args: argparse.Namespace) -> int:
    from api.cli.decode import run_decode

    return asyncio.run(run_decode(_settings(args), args.limit))


def _verify(args: argparse.Namespace) -> int:
    from api.cli.verify import run_verify

    return asyncio.run(
        run_verify(_settings(args), args.acked, args.wait, args.target_dir, args.keyspace)
    )


def _replay(args: argparse.Namespace) -> int:
    from api.cli.replay import run_replay

    return asyncio.run(
        run_replay(
            _settings(args), args.target_dir, args.keyspace, args.since, args.after, args.quiet
        )
    )


def _audit(args: argparse.Namespace) -> int:
    from api.cli.audit import run_audit

    return asyncio.run(run_audit(_settings(args), args))


def _apikey(args: argparse.Namespace) -> int:
    from api.cli.apikey import run_apikey

    return asyncio.run(run_apikey(_settings(args), args))


def _token(args: argparse.Namespace) -> int:
    from api.auth import mint_token

    settings = _settings(args)
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
            device_id=args.device,
            namespaces=tuple(args.ns),
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tidings", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def listener(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", help="listen address (default 127.0.0.1)")
        p.add_argument("--port", type=int, help="listen port (default 8000)")

    serve = sub.add_parser("serve", help="run Tidings (embedded unless TIDINGS_MODE is set)")
    serve.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    listener(serve)
    serve.set_defaults(func=_serve)

    gateway = sub.add_parser("gateway", help="run a distributed-mode gateway")
    listener(gateway)
    gateway.set_defaults(func=_gateway)

    processor = sub.add_parser("processor", help="run the command processor and projectors")
    processor.add_argument(
        "--no-commands", action="store_true", help="projectors only, no command processor"
    )
    processor.set_defaults(func=_processor)

    sub.add_parser("migrate", help="create Kafka topics and the Cassandra schema").set_defaults(
        func=_migrate
    )

    decode = sub.add_parser("decode", help="print the event log as JSON lines")
    decode.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    decode.add_argument("--limit", type=int, default=0, help="stop after N events (0: all)")
    decode.set_defaults(func=_decode)

    verify = sub.add_parser(
        "verify", help="check acknowledged sends, the log and the projections (exit 1 if not)"
    )
    verify.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    verify.add_argument(
        "--acked", type=Path, help="JSON lines of acknowledged sends: eventId, roomId, clientMsgId"
    )
    verify.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="seconds to keep re-checking while projections catch up (default 0: check once)",
    )
    verify.add_argument(
        "--target-dir", type=Path, help="compare with this replay (embedded) instead of a fresh one"
    )
    verify.add_argument(
        "--keyspace", help="compare with this replayed keyspace (distributed) instead"
    )
    verify.set_defaults(func=_verify)

    replay = sub.add_parser(
        "replay", help="rebuild the projections from the log into a new target (resumable)"
    )
    replay.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    replay.add_argument("--target-dir", type=Path, help="embedded: new directory for the rebuild")
    replay.add_argument("--keyspace", help="distributed: new Cassandra keyspace for the rebuild")
    replay.add_argument(
        "--since",
        type=datetime.fromisoformat,
        help="only events that occurred at or after this ISO time (default: all)",
    )
    replay.add_argument(
        "--after", type=int, help="start after this log cursor (default: resume, or the start)"
    )
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    replay.set_defaults(func=_replay)

    audit = sub.add_parser("audit", help="answer audit questions from the event log")
    audit.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    questions = audit.add_subparsers(dest="audit", required=True)
    room = questions.add_parser("room", help="a room's members, roles and messages as of a cut")
    room.add_argument("room_id")
    room.add_argument("--at-position", type=int, help="the room stream position to stop at")
    room.add_argument("--at-time", type=datetime.fromisoformat, help="ISO time to stop at")
    receipts = questions.add_parser("receipts", help="who received and read a message, when")
    receipts.add_argument("room_id")
    receipts.add_argument("message_id")
    export = questions.add_parser("export", help="events as JSON lines (streaming)")
    whose = export.add_mutually_exclusive_group(required=True)
    whose.add_argument("--room", help="one room's stream")
    whose.add_argument("--user", help="what a user did or was the subject of")
    whose.add_argument("--all", action="store_true", help="the whole log")
    export.add_argument("--since", type=datetime.fromisoformat, help="from this ISO time")
    export.add_argument("--until", type=datetime.fromisoformat, help="up to this ISO time")
    audit.set_defaults(func=_audit)

    apikey = sub.add_parser("apikey", help="create, list and revoke API keys (server API)")
    apikey.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    keys = apikey.add_subparsers(dest="apikey", required=True)
    create = keys.add_parser("create", help="create a key and print it (once)")
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        help="publish, rooms, read, sessions, tokens or admin (repeat for several)",
    )
    create.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="act only in this namespace (repeat; default: every namespace)",
    )
    keys.add_parser("list", help="every key, revoked ones too (never the secrets)")
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    apikey.set_defaults(func=_apikey)

    token = sub.add_parser("token", help="mint a development JWT for a user")
    token.add_argument("user")
    token.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    token.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds")
    token.add_argument(
        "--device", default="", help="bind the token to this device (revocable with it)"
    )
    token.add_argument(
        "--ns",
        action="append",
        default=[],
        metavar="NAMESPACE",
        help="grant this namespace (repeat for several; default: only 'default')",
    )
    token.set_defaults(func=_token)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=lambda _: print(metadata.version("tidings")) or 0)

    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except (FileNotFoundError, ValueError, LogUnavailable, StoreUnavailable) as exc:
        # What an operator can fix (a path, an option, a server down): one line, exit 2.
        print(f"tidings {args.command}: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
