"""The cassandra-driver session the Cassandra adapters share: connection, prepared
statements, an asyncio bridge, bounded concurrency, and driver errors as StoreUnavailable.

Driver calls are bridged to asyncio without blocking the loop (``execute_async`` callbacks
resolve asyncio futures); statements are prepared once, in a thread (the driver prepares
synchronously, and a slow node must never freeze the event loop).
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections import namedtuple
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeVar

from cassandra import DriverException
from cassandra.cluster import Cluster, NoHostAvailable, Session
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from cassandra.query import BatchStatement, BatchType, PreparedStatement, named_tuple_factory

from projections.migrations_cassandra import schema_statements
from projections.store import StoreUnavailable

__all__ = ["CassandraSession", "gather_bounded", "migrate"]

T = TypeVar("T")

REQUEST_TIMEOUT = 5.0
"""Seconds before a statement fails with StoreUnavailable (REST answers 503, projectors retry)."""
HEARTBEAT_SECONDS = 5
"""An idle connection is probed this often and dropped when the probe gets no answer in as
long: a peer that vanished without a FIN (blackholed, frozen) is noticed within ~10 s."""
CONCURRENCY = 64
"""Statements one batch keeps in flight at most."""


def _cluster(hosts: Sequence[str], port: int) -> Cluster:
    return Cluster(
        list(hosts),
        port=port,
        protocol_version=5,
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        # Back within seconds after an outage (the driver's default waits up to 10 minutes).
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=4.0),
        idle_heartbeat_interval=HEARTBEAT_SECONDS,
        idle_heartbeat_timeout=HEARTBEAT_SECONDS,
        prepare_on_all_hosts=True,
        reprepare_on_up=True,
        connect_timeout=5,
    )


def migrate(hosts: Sequence[str], port: int, keyspace: str, replication_factor: int = 1) -> str:
    """Creates the keyspace and tables (idempotent) and the inbox epoch; returns the epoch."""
    cluster = _cluster(hosts, port)
    try:
        session = cluster.connect()
        for statement in schema_statements(keyspace, replication_factor):
            session.execute(statement, timeout=60)
        session.execute(
            f"INSERT INTO {keyspace}.meta (key, value) VALUES ('epoch', %s) IF NOT EXISTS",
            (uuid.uuid4().hex[:12],),
        )
        row = session.execute(f"SELECT value FROM {keyspace}.meta WHERE key='epoch'").one()
        return str(row.value)
    finally:
        cluster.shutdown()


@functools.lru_cache(maxsize=512)
def _row_class(columns: tuple[str, ...]) -> type:
    return namedtuple("Row", columns)


def named_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """The driver's default row factory, with one row class per column list: the default
    builds a new namedtuple class for every result (a few percent of a gateway's and the
    processor's CPU)."""
    try:
        row = _row_class(tuple(columns))
    except ValueError:  # a name that is no identifier (an unaliased function call)
        return named_tuple_factory(columns, rows)  # type: ignore[no-any-return]
    return [row(*values) for values in rows]


async def gather_bounded(calls: Iterable[Awaitable[T]], limit: int = CONCURRENCY) -> list[T]:
    """Awaits every call with at most ``limit`` in flight; the first error is raised once
    all have finished (none is left running)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    outcomes = await asyncio.gather(*(one(c) for c in calls), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes  # type: ignore[return-value]


class CassandraSession:
    def __init__(self, cluster: Cluster, session: Session, keyspace: str, epoch: str) -> None:
        self._cluster = cluster
        self._session = session
        self.keyspace = keyspace
        self.epoch = epoch
        self._prepared: dict[str, PreparedStatement] = {}

    @classmethod
    async def connect(cls, hosts: Sequence[str], port: int, keyspace: str) -> CassandraSession:
        """Connects to a migrated keyspace (``tidings migrate`` creates it)."""
        cluster = _cluster(hosts, port)
        try:
            session = await asyncio.to_thread(cluster.connect, keyspace)
            row = await asyncio.to_thread(
                lambda: session.execute("SELECT value FROM meta WHERE key='epoch'").one()
            )
        except (NoHostAvailable, DriverException) as exc:
            cluster.shutdown()
            raise StoreUnavailable(f"cassandra: {exc}") from exc
        if row is None:
            cluster.shutdown()
            raise StoreUnavailable(f"keyspace {keyspace} is not migrated: run tidings migrate")
        session.default_timeout = REQUEST_TIMEOUT  # also bounds the driver's own requests
        session.row_factory = named_rows
        return cls(cluster, session, keyspace, str(row.value))

    async def statement(self, cql: str) -> PreparedStatement:
        """The prepared statement for ``cql``, prepared on first use in a thread."""
        statement = self._prepared.get(cql)
        if statement is None:
            try:
                statement = await asyncio.to_thread(self._session.prepare, cql)
            except (NoHostAvailable, DriverException) as exc:
                raise StoreUnavailable(f"cassandra: {exc}") from exc
            self._prepared[cql] = statement
        return statement

    async def run(self, cql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Executes a prepared statement; returns the rows of its first page."""
        return await self._execute((await self.statement(cql)).bind(tuple(params)))

    async def run_batch(self, writes: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Writes to one partition as one unlogged batch (atomic and isolated there, one
        round trip); a single write is sent as it is."""
        if len(writes) == 1:
            await self.run(*writes[0])
            return
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for cql, params in writes:
            batch.add(await self.statement(cql), tuple(params))
        await self._execute(batch)

    async def _execute(self, statement: Any) -> list[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()

        def resolve(rows: Any) -> None:
            if not future.done():
                future.set_result(list(rows or []))

        def reject(exc: BaseException) -> None:
            if not future.done():
                future.set_exception(exc)

        try:
            response = self._session.execute_async(statement, timeout=REQUEST_TIMEOUT)
        except (NoHostAvailable, DriverException) as exc:
            raise StoreUnavailable(f"cassandra: {exc}") from exc
        response.add_callbacks(
            lambda rows: loop.call_soon_threadsafe(resolve, rows),
            lambda exc: loop.call_soon_threadsafe(reject, exc),
        )
        try:
            return await future
        except (NoHostAvailable, DriverException) as exc:
            raise StoreUnavailable(f"cassandra: {exc}") from exc

    async def scan(self, cql: str) -> list[Any]:
        """Every row of an unprepared query, all pages (operations tooling, not hot paths)."""
        try:
            return await asyncio.to_thread(lambda: list(self._session.execute(cql)))
        except (NoHostAvailable, DriverException) as exc:
            raise StoreUnavailable(f"cassandra: {exc}") from exc

    async def close(self) -> None:
        await asyncio.to_thread(self._cluster.shutdown)
