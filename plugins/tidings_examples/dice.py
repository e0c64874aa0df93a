"""A dice bot: answers ``dice.roll`` with a roll, tells the room (``dice.rolled``, volatile),
and answers ``echo`` with its payload.

Settings (``[plugins.dice]``): ``max_sides`` (default 100).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from api.plugins import Call, Emitter, Plugin


def plugin(settings: Mapping[str, Any]) -> Plugin:
    max_sides = settings.get("max_sides", 100)
    if not isinstance(max_sides, int) or max_sides < 2:
        raise ValueError("max_sides must be an integer of at least 2")

    async def roll(call: Call, emitter: Emitter) -> Any:
        sides = call.payload.get("sides", 6) if isinstance(call.payload, dict) else 6
        if not isinstance(sides, int) or not 2 <= sides <= max_sides:
            return {"error": f"sides must be an integer from 2 to {max_sides}"}
        rolled = {"roll": secrets.randbelow(sides) + 1, "sides": sides, "by": call.user_id}
        if call.room_id:
            await emitter.emit("dice.rolled", rolled, room_id=call.room_id, volatile=True)
        return rolled

    async def echo(call: Call, emitter: Emitter) -> Any:
        return call.payload

    return Plugin(handlers={"dice.roll": roll, "echo": echo})
