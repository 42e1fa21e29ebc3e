"""PgBouncer's userlist.txt format, which Sluice's auth_file reads too."""
from __future__ import annotations

from pathlib import Path


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def userlist_text(users: dict[str, str]) -> str:
    """One `"user" "secret-or-password"` line per entry."""
    return "".join(f"{_quote(user)} {_quote(secret)}\n" for user, secret in users.items())


def write_userlist(path: Path, users: dict[str, str]) -> Path:
    path = Path(path)
    path.write_text(userlist_text(users))
    return path
