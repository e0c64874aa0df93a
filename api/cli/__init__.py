"""The ``tidings`` command line: one parser, one error path.

Exit codes, for every command: 0 done; 1 the command ran and found a problem (verify's
findings, a token checktoken refuses, a key request the server refuses); 2 it could not run
as asked (a bad option, a missing file, a server or service it needs is down: the message
on stderr says which); 3 an unexpected error (a bug: rerun with --debug for the traceback);
130 interrupted. Output piped into head ends quietly (default SIGPIPE behaviour).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import uuid
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from api.auth import AuthError
from api.settings import DEV_SECRET_FILE, Settings
from domain.errors import DomainError
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
            ("mqtt_port", getattr(args, "mqtt_port", None)),
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
        raise ValueError("tokens can only be minted with an HS256 secret (TIDINGS_JWT_SECRET)")
    secret = settings.jwt_secret or _development_secret(settings, create=args.init)
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


def _development_secret(settings: Settings, *, create: bool) -> str:
    """The data directory's development secret; made only when asked (a new secret signs
    tokens no running server accepts)."""
    if not create and not (settings.data_dir / DEV_SECRET_FILE).exists():
        raise FileNotFoundError(
            f"no development secret in {settings.data_dir}: give the data directory of the "
            "server (--data-dir, TIDINGS_DATA_DIR), set TIDINGS_JWT_SECRET, or --init to "
            "create one (a server started there later uses it)"
        )
    return settings.development_secret()


def _checktoken(args: argparse.Namespace) -> int:
    from api.cli.checktoken import run_checktoken

    return asyncio.run(run_checktoken(_settings(args), args.token, args.device))


COMMANDS: dict[str, tuple[str, str]] = {
    "serve": (
        "run Tidings (embedded unless TIDINGS_MODE=distributed)",
        "tidings serve --port 8000",
    ),
    "gateway": ("run a stateless gateway in distributed mode", "tidings gateway --port 8001"),
    "processor": ("run the command processor and projectors (distributed)", "tidings processor"),
    "migrate": ("create the Kafka topics and the Cassandra schema (idempotent)", "tidings migrate"),
    "decode": ("print the event log as JSON lines (either mode)", "tidings decode --limit 20"),
    "verify": (
        "check acknowledged sends, the log and the projections against each other",
        "tidings verify --acked acked.jsonl --wait 30",
    ),
    "replay": (
        "rebuild the projections from the log into a new target (resumable)",
        "tidings replay --target-dir rebuilt/",
    ),
    "audit": (
        "answer audit questions from the event log",
        "tidings audit receipts ROOM_ID MESSAGE_ID",
    ),
    "apikey": (
        "create, list and revoke API keys (server API)",
        "tidings apikey create --name shop --scope publish",
    ),
    "token": ("mint a development JWT for a user", "tidings token alice --device phone"),
    "checktoken": (
        "say whether the server would accept a token, and why not",
        'tidings checktoken "$TOKEN"',
    ),
    "version": ("print the version", "tidings version"),
}


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="data directory (default ./data, or TIDINGS_DATA_DIR)",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an unexpected error",
    )
    return common


def _add(
    sub: Any, name: str, func: Any, parents: list[argparse.ArgumentParser]
) -> argparse.ArgumentParser:
    summary, example = COMMANDS[name]
    command: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=f"example:\n  {example}",
        parents=parents,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(func=func)
    return command


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="tidings",
        description="Tidings: event-sourced real-time messaging.",
        epilog=__doc__.split("\n\n", 1)[1],
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=metadata.version("tidings"))
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    parents = [common]

    def listener(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", help="listen address (default 127.0.0.1)")
        p.add_argument("--port", type=int, help="listen port (default 8000)")
        p.add_argument("--mqtt-port", type=int, help="also serve MQTT over TCP on this port")

    listener(_add(sub, "serve", _serve, parents))
    listener(_add(sub, "gateway", _gateway, parents))
    processor = _add(sub, "processor", _processor, parents)
    processor.add_argument(
        "--no-commands", action="store_true", help="projectors only, no command processor"
    )
    _add(sub, "migrate", _migrate, parents)
    decode = _add(sub, "decode", _decode, parents)
    decode.add_argument("--limit", type=_positive, default=0, help="stop after N events")
    _verify_options(_add(sub, "verify", _verify, parents))
    _replay_options(_add(sub, "replay", _replay, parents))
    _audit_options(_add(sub, "audit", _audit, parents), parents)
    _apikey_options(_add(sub, "apikey", _apikey, parents), parents)
    token = _add(sub, "token", _token, parents)
    token.add_argument("user")
    token.add_argument("--ttl", type=_positive, default=24 * 3600, help="lifetime in seconds")
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
    token.add_argument(
        "--init",
        action="store_true",
        help="create the data directory's development secret if it has none",
    )
    check = _add(sub, "checktoken", _checktoken, parents)
    check.add_argument("token")
    check.add_argument("--device", default="", help="the device it would connect as")
    _add(sub, "version", lambda _: print(metadata.version("tidings")) or 0, parents)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _verify_options(verify: argparse.ArgumentParser) -> None:
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


def _replay_options(replay: argparse.ArgumentParser) -> None:
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


def _audit_options(audit: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]) -> None:
    questions = audit.add_subparsers(dest="audit", required=True, metavar="QUESTION")
    room = questions.add_parser(
        "room", help="a room's members, roles and messages as of a cut", parents=parents
    )
    room.add_argument("room_id", type=_room_id)
    room.add_argument("--at-position", type=_positive, help="the room stream position to stop at")
    room.add_argument("--at-time", type=datetime.fromisoformat, help="ISO time to stop at")
    receipts = questions.add_parser(
        "receipts", help="who received and read a message, when", parents=parents
    )
    receipts.add_argument("room_id", type=_room_id)
    receipts.add_argument("message_id")
    export = questions.add_parser(
        "export", help="events as JSON lines (streaming)", parents=parents
    )
    whose = export.add_mutually_exclusive_group(required=True)
    whose.add_argument("--room", type=_room_id, help="one room's stream")
    whose.add_argument("--user", help="what a user did or was the subject of")
    whose.add_argument("--all", action="store_true", help="the whole log")
    export.add_argument("--since", type=datetime.fromisoformat, help="from this ISO time")
    export.add_argument("--until", type=datetime.fromisoformat, help="up to this ISO time")


def _room_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a room id (a UUID)") from None


def _apikey_options(
    apikey: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]
) -> None:
    keys = apikey.add_subparsers(dest="apikey", required=True, metavar="ACTION")
    create = keys.add_parser("create", help="create a key and print it (once)", parents=parents)
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
    keys.add_parser("list", help="every key, revoked ones too (never the secrets)", parents=parents)
    revoke = keys.add_parser("revoke", help="revoke a key by its id", parents=parents)
    revoke.add_argument("key_id")


OPERATOR_ERRORS = (
    FileNotFoundError,
    PermissionError,
    ValueError,
    LogUnavailable,
    StoreUnavailable,
    DomainError,
    AuthError,
    ConnectionError,
)
"""What the operator can fix (a path, an option, a service down): one line, exit 2."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    # While the command runs, a closed pipe ends it quietly (`tidings decode | head`); the
    # handler is put back after, for callers that run main() in their own process.
    previous = signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except OPERATOR_ERRORS as exc:
        if debug:
            raise
        print(f"tidings {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if debug:
            raise
        print(
            f"tidings {args.command}: unexpected error: {type(exc).__name__}: {exc} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 3
    finally:
        signal.signal(signal.SIGPIPE, previous)
    return result


if __name__ == "__main__":
    sys.exit(main())
