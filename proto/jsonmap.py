"""The protobuf JSON mapping of Tidings messages, without json_format's per-call overhead.

``to_dict(message)`` returns exactly what ``json_format.MessageToDict(message)`` returns
(camelCase names, fields at their default value left out, 64-bit integers as strings, enums
by name, Timestamps as RFC 3339; one difference: whole numbers in a ``Value`` are ints,
not doubles); ``tests/unit/test_jsonmap.py`` holds it to that for every
message the server sends. It exists because every reply and push is mapped on the hot path:
json_format inspects each field's descriptor on every call, this decides once per field.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from proto.codec import value_to_python

__all__ = ["to_dict"]

Convert = Callable[[Any], Any]

_INT64 = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_converters: dict[FieldDescriptor, tuple[str, Convert]] = {}


def to_dict(message: Message) -> dict[str, Any]:
    full_name = message.DESCRIPTOR.full_name
    if full_name in _SPECIAL:
        raise TypeError(f"{full_name} maps to a JSON scalar, not an object")
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        entry = _converters.get(field)
        if entry is None:
            entry = _converters[field] = (field.json_name, _converter(field))
        out[entry[0]] = entry[1](value)
    return out


def _converter(field: FieldDescriptor) -> Convert:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        raise TypeError(f"map fields are not mapped here: {field.full_name}")
    single = _single(field)
    if field.is_repeated:
        return lambda values: [single(v) for v in values]
    return single


def _single(field: FieldDescriptor) -> Convert:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        assert field.message_type is not None
        special = _SPECIAL.get(field.message_type.full_name)
        return special if special is not None else to_dict
    if field.type in _INT64:
        return str
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        values = field.enum_type.values_by_number

        def enum_name(number: int) -> str | int:
            value = values.get(number)
            return value.name if value is not None else number

        return enum_name
    if field.type == FieldDescriptor.TYPE_BYTES:
        return lambda data: base64.b64encode(data).decode()
    if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        raise TypeError(f"floating-point fields are not mapped here: {field.full_name}")
    return _same


def _same(value: Any) -> Any:
    return value


_SPECIAL: dict[str, Convert] = {
    "google.protobuf.Timestamp": lambda ts: ts.ToJsonString(),
    # Application event payloads: any JSON value (rare enough for json_format's pace).
    "google.protobuf.Value": value_to_python,
}
