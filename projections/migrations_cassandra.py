"""Cassandra keyspace and schema for the projections, applied by ``tidings migrate``.

Every statement is idempotent (IF NOT EXISTS), so migrating twice is harmless. See ADR 7 for
the design: timelines partitioned by (room, position bucket) and clustered by position,
inboxes by (user, bucket), writes stamped ``USING TIMESTAMP <stream position>`` so that a
replayed older event never overwrites newer state.
"""

from __future__ import annotations

__all__ = ["BUCKET_SIZE", "schema_statements"]

BUCKET_SIZE = 1000
"""Positions per timeline / inbox partition: bounded partitions, direct arithmetic paging."""


def schema_statements(keyspace: str, replication_factor: int = 1) -> list[str]:
    ks = keyspace
    return [
        f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = "
        f"{{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}}",
        f"CREATE TABLE IF NOT EXISTS {ks}.meta (key text PRIMARY KEY, value text)",
        f"CREATE TABLE IF NOT EXISTS {ks}.tracking ("
        "name text, partition int, offset bigint, PRIMARY KEY (name, partition))",
        f"CREATE TABLE IF NOT EXISTS {ks}.rooms ("
        "room_id text PRIMARY KEY, kind int, name text, public boolean, head bigint, "
        "last_activity text)",
        f"CREATE TABLE IF NOT EXISTS {ks}.room_members ("
        "room_id text, user_id text, role int, joined_at bigint, PRIMARY KEY (room_id, user_id))",
        f"CREATE TABLE IF NOT EXISTS {ks}.rooms_by_user ("
        "user_id text, room_id text, role int, PRIMARY KEY (user_id, room_id))",
        f"CREATE TABLE IF NOT EXISTS {ks}.messages ("
        "room_id text, bucket int, position bigint, message_id text, author_id text, "
        "client_msg_id text, text text, posted_at text, trace_id text, edited boolean, "
        "deleted boolean, PRIMARY KEY ((room_id, bucket), position)) "
        "WITH CLUSTERING ORDER BY (position DESC) AND gc_grace_seconds = 86400",
        f"CREATE TABLE IF NOT EXISTS {ks}.message_positions ("
        "room_id text, message_id text, position bigint, PRIMARY KEY ((room_id, message_id)))",
        f"CREATE TABLE IF NOT EXISTS {ks}.read_states ("
        "user_id text, room_id text, delivered_up_to bigint, read_up_to bigint, "
        "PRIMARY KEY (user_id, room_id))",
        f"CREATE TABLE IF NOT EXISTS {ks}.presence ("
        "user_id text, device_id text, status int, updated_at text, "
        "PRIMARY KEY (user_id, device_id)) WITH default_time_to_live = 86400",
        f"CREATE TABLE IF NOT EXISTS {ks}.quiet_rooms (room_id text PRIMARY KEY)",
        f"CREATE TABLE IF NOT EXISTS {ks}.room_namespaces ("
        "room_id text PRIMARY KEY, namespace text)",
        # The room directory: group rooms and channels by namespace (search filters a
        # namespace's partition; fine for thousands of rooms per namespace).
        f"CREATE TABLE IF NOT EXISTS {ks}.room_directory ("
        "namespace text, room_id text, name text, public boolean, kind int, "
        "PRIMARY KEY (namespace, room_id))",
        f"CREATE TABLE IF NOT EXISTS {ks}.api_keys ("
        "key_id text PRIMARY KEY, name text, scopes text, namespaces text, secret_hash text, "
        "created_at text, created_by text, revoked_at text)",
        f"CREATE TABLE IF NOT EXISTS {ks}.revocations ("
        "user_id text, device_id text, revoked_at double, PRIMARY KEY (user_id, device_id))",
        f"CREATE TABLE IF NOT EXISTS {ks}.inbox ("
        "user_id text, bucket int, position bigint, envelope blob, "
        "PRIMARY KEY ((user_id, bucket), position))",
        # One partition per user: the inbox head (static) and, per source stream, the last
        # stream position appended (mark) and where it landed in the inbox (at), updated
        # together in one single-partition batch.
        f"CREATE TABLE IF NOT EXISTS {ks}.inbox_state ("
        "user_id text, stream text, mark bigint, at bigint, head bigint static, "
        "PRIMARY KEY (user_id, stream))",
        # Room streams (ADR 14): where each starts, its head, and its events by room position.
        f"CREATE TABLE IF NOT EXISTS {ks}.room_streams ("
        "room_id text PRIMARY KEY, since bigint, head bigint)",
        f"CREATE TABLE IF NOT EXISTS {ks}.room_events ("
        "room_id text, bucket int, position bigint, envelope blob, "
        "PRIMARY KEY ((room_id, bucket), position))",
        # Gateway leases (written with a TTL, renewed while the gateway lives) and the
        # devices each gateway holds: a survivor takes a dead gateway's devices offline.
        f"CREATE TABLE IF NOT EXISTS {ks}.gateway_leases (gateway_id text PRIMARY KEY, "
        "renewed_at timestamp)",
        # What each serving process reports for the admin overview (rows with a TTL).
        f"CREATE TABLE IF NOT EXISTS {ks}.process_status (process_id text PRIMARY KEY, "
        "status text)",
        f"CREATE TABLE IF NOT EXISTS {ks}.gateway_devices ("
        "gateway_id text, user_id text, device_id text, "
        "PRIMARY KEY (gateway_id, user_id, device_id))",
        f"CREATE TABLE IF NOT EXISTS {ks}.mqtt_sessions ("
        "user_id text, client_id text, state text, PRIMARY KEY ((user_id, client_id)))",
    ]
