"""Rows from Cassandra keep the driver's shape, with one row class per column list."""

from __future__ import annotations

from cassandra.query import named_tuple_factory

from projections.cassandra_session import named_rows


def test_rows_read_like_the_drivers_and_share_their_class() -> None:
    first = named_rows(["room_id", "head"], [("r1", 3), ("r2", 5)])
    again = named_rows(["room_id", "head"], [("r3", 7)])
    assert first == named_tuple_factory(["room_id", "head"], [("r1", 3), ("r2", 5)])
    assert (first[1].room_id, first[1].head) == ("r2", 5)
    assert type(first[0]) is type(again[0])


def test_a_column_that_is_no_identifier_is_named_as_the_driver_names_it() -> None:
    (row,) = named_rows(["system.count(*)"], [(4,)])
    assert row == named_tuple_factory(["system.count(*)"], [(4,)])[0]
    assert row[0] == 4
