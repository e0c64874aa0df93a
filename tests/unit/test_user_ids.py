"""The user-id rule: ``HIDDEN_CHARACTERS`` is exactly what Unicode calls control, format,
private-use and separator characters (the space aside), so ``check_user_id`` and the OpenAPI
schema's pattern, built from it, refuse the same ids."""

from __future__ import annotations

import re
import unicodedata

import pytest

from domain.errors import InvalidArgument
from domain.values import HIDDEN_CHARACTERS, MAX_USER_ID_LENGTH, check_user_id

HIDDEN = {"Cc", "Cf", "Co", "Zs", "Zl", "Zp"}


def test_the_hidden_class_is_derived_from_unicode_categories() -> None:
    hidden = re.compile(f"[{HIDDEN_CHARACTERS}]")
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        expected = unicodedata.category(char) in HIDDEN and char != " "
        assert bool(hidden.match(char)) == expected, hex(code)


@pytest.mark.parametrize(
    "user_id", ["alice", "a b", "日本語", "ü" * MAX_USER_ID_LENGTH, "\U00076c8e"]
)
def test_ids_of_visible_characters_pass(user_id: str) -> None:
    assert check_user_id(user_id) == user_id


@pytest.mark.parametrize(
    "user_id",
    [
        "",
        "x" * (MAX_USER_ID_LENGTH + 1),
        "bad\x1eid",
        "zero\u200bwidth",
        "rtl\u202eexe",
        "nbsp\xa0",
        "\ue000",
        "\ud800",
    ],
)
def test_ids_with_hidden_characters_are_invalid(user_id: str) -> None:
    with pytest.raises(InvalidArgument):
        check_user_id(user_id)
