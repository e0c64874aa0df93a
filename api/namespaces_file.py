"""The namespaces file (``TIDINGS_NAMESPACES_FILE``, TOML): the deployment's namespaces and
the settings of its plugins (docs/namespaces.md, docs/plugins.md).

Every process of a deployment reads the same file: gateways for what connections may emit,
the command processor for who may create rooms and how large they grow.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.errors import InvalidArgument
from domain.namespaces import Namespaces

__all__ = ["AppConfig", "load_app_config"]


@dataclass(frozen=True)
class AppConfig:
    namespaces: Namespaces = field(default_factory=Namespaces)
    plugins: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each plugin's own settings, by plugin name (table ``[plugins.<name>]``)."""


@functools.lru_cache(maxsize=8)
def load_app_config(path: Path | None) -> AppConfig:
    """Reads and checks the file; ValueError names what is wrong and where."""
    if path is None:
        return AppConfig()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    unknown = set(data) - {"namespaces", "plugins"}
    namespaces, plugins = data.get("namespaces", {}), data.get("plugins", {})
    if unknown or not isinstance(namespaces, dict) or not isinstance(plugins, dict):
        raise ValueError(f"{path}: expected only [namespaces.<name>] and [plugins.<name>] tables")
    try:
        config = AppConfig(Namespaces.from_dict(namespaces), plugins)
    except InvalidArgument as exc:
        raise ValueError(f"{path}: {exc}") from exc
    for rules in config.namespaces:
        for name, rule in rules.events.items():
            if rule.schema is not None:
                _check_schema(path, rules.name, name, rule.schema)
    return config


def _check_schema(path: Path, namespace: str, event: str, schema: Mapping[str, Any]) -> None:
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(
            f"{path}: namespace {namespace!r}, event {event!r}: not a JSON Schema: {exc.message}"
        ) from exc
