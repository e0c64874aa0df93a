"""A word filter: masks (or refuses) blocked words in messages and in the strings of
application event payloads.

Settings (``[plugins.word_filter]``): ``words`` (list of words, matched whole and
case-insensitively), ``action`` ("mask", the default, or "reject").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from api.plugins import Inbound, Plugin, Reject, replace


def plugin(settings: Mapping[str, Any]) -> Plugin:
    words = settings.get("words", [])
    action = settings.get("action", "mask")
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise ValueError("words must be a list of non-empty strings")
    if action not in ("mask", "reject"):
        raise ValueError("action must be 'mask' or 'reject'")
    if not words:
        return Plugin()
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)

    def clean(text: str) -> str:
        if action == "reject" and pattern.search(text):
            raise Reject("that contains a blocked word")
        return pattern.sub(lambda m: "*" * len(m.group(0)), text)

    def clean_json(value: Any) -> Any:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, list):
            return [clean_json(v) for v in value]
        if isinstance(value, dict):
            return {k: clean_json(v) for k, v in value.items()}
        return value

    async def filter_words(inbound: Inbound) -> Inbound:
        if inbound.kind == "message":
            return replace(inbound, text=clean(inbound.text))
        return replace(inbound, payload=clean_json(inbound.payload))

    return Plugin(filters=[filter_words])
