"""Keyset paging: the cursor a page hands on names the last row shown (its sort key),
never a row count, so the next page is one indexed seek however far down it is, and
rows added meanwhile neither repeat nor vanish (no OFFSET anywhere).

A cursor is the sort key as URL-safe base64 of JSON; a face passes it back unread.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

from mailroom.errors import ConfigError

PAGE = 50          # rows a list shows at once
MAX_PAGE = 200


def encode(*key) -> str:
    values = [v.isoformat() if isinstance(v, dt.datetime) else v for v in key]
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None, *kinds: type) -> tuple | None:
    """The key in `cursor` with each value of the kind given (datetime from ISO text), or
    None for no cursor; ConfigError (field "after") for one this module did not make."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong length")
        out = []
        for value, kind in zip(values, kinds):
            if kind is dt.datetime:
                value = dt.datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError("naive time")
            elif kind is float:
                value = float(value)
            elif not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError("wrong kind")
            out.append(value)
        return tuple(out)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError("This page's position in the list (after=...) is not one Mailroom made; "
                          "start from the beginning of the list.", field="after") from None


def size(limit: int | None) -> int:
    return max(1, min(limit or PAGE, MAX_PAGE))


def cut(rows: list, limit: int, key) -> tuple[list, str | None]:
    """The first `limit` of `rows` (fetched as limit + 1) and the cursor after them, if more."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode(*key(rows[-1]))
