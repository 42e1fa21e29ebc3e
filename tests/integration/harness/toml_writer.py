"""A tiny dict -> TOML writer (the standard library only reads TOML)."""
from __future__ import annotations

import json


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _table(lines: list[str], name: str, table: dict) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if name and (scalars or not table):
        lines.append(f"\n[{name}]")
    lines.extend(f"{k} = {_value(v)}" for k, v in scalars.items())
    for key, sub in table.items():
        if isinstance(sub, dict):
            _table(lines, f"{name}.{key}" if name else key, sub)


def dumps(config: dict) -> str:
    """{"pool": {"pool_size": 4}, "databases": {"app": {...}}} -> TOML text."""
    lines: list[str] = []
    _table(lines, "", config)
    return "\n".join(lines).lstrip("\n") + "\n"
