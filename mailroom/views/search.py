"""The header's search box: clients (name or address), messages (subject, sender, body)
and tasks (title) for one query.

Messages come from the full-text index, ranked, when the store has one (SQLite with
FTS5, mailroom/store/search.py); otherwise every word is looked for with LIKE, newest
first, and `SearchResults.full_text` is False so the page can say so. The matching
words come back marked in pieces of (text, is_match), never as HTML: the face escapes.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import Engine

from mailroom.model import SearchHit, SearchResults
from mailroom.store import clients as client_store
from mailroom.store import search as store
from mailroom.store import tasks as task_store
from mailroom.views import paging

CLIENTS = 10
MESSAGES = 20
TASKS = 10
SNIPPET = 90         # characters either side of the first match, without the index

Pieces = tuple[tuple[str, bool], ...]


def mark(text: str, words: list[str]) -> Pieces:
    """`text` in pieces with every occurrence of a word (any case) marked."""
    if not text:
        return ()
    if not words:
        return ((text, False),)
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.I)
    pieces, at = [], 0
    for found in pattern.finditer(text):
        if found.start() > at:
            pieces.append((text[at:found.start()], False))
        pieces.append((found.group(), True))
        at = found.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return tuple(pieces)


def unmark(text: str) -> Pieces:
    """The index's highlighted text (store.START/END around matches) in pieces."""
    pieces, matched = [], False
    for part in re.split(f"([{store.START}{store.END}])", text or ""):
        if part == store.START:
            matched = True
        elif part == store.END:
            matched = False
        elif part:
            pieces.append((part, matched))
    return tuple(pieces)


def excerpt(text: str, words: list[str]) -> Pieces:
    """Without the index: the text around the first word found, marked."""
    text = " ".join((text or "").split())
    low = text.lower()
    first = min((i for i in (low.find(w.lower()) for w in words) if i >= 0), default=0)
    start, end = max(first - SNIPPET, 0), first + SNIPPET
    piece = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    return mark(piece, words)


def _message_hit(row: dict, words: list[str], indexed: bool) -> SearchHit:
    sender = row["from_name"] or row["from_addr"]
    if indexed:
        title, snippet = unmark(row["subject_marked"] or ""), unmark(" ".join((row["snippet"] or "").split()))
    else:
        title, snippet = mark(row["subject"], words), excerpt(row["text"], words)
    return SearchHit(kind="message", id=row["id"], title=title or (("(no subject)", False),),
                     detail=sender if row["direction"] == "in" else f"Auto-reply from {sender}",
                     at=row["date"] or row["created_at"], snippet=snippet, client_id=row["client_id"],
                     message_pk=row["id"])


def search(engine: Engine, query: str, more: str | None = None) -> SearchResults:
    """Clients, messages and tasks for `query`; `more` pages on through the messages only."""
    query = " ".join((query or "").split())
    words = store.terms(query)
    if not words:
        return SearchResults(query, (), (), (), full_text=True)
    with engine.connect() as conn:
        indexed = store.has_index(conn)
        floor = 0
        if indexed:
            after = paging.decode(more, float, int, int)
            floor = after[2] if after else store.rank_floor(conn, words)
            rows = store.search_messages(conn, words, MESSAGES + 1, floor, after[:2] if after else None)
            rows, cursor = paging.cut(rows, MESSAGES, lambda r: (r["score"], r["id"], floor))
        else:
            after = paging.decode(more, int)
            rows = store.like_messages(conn, words, MESSAGES + 1, after[0] if after else None)
            rows, cursor = paging.cut(rows, MESSAGES, lambda r: (r["id"],))
        messages = tuple(_message_hit(r, words, indexed) for r in rows)
        if more:
            return SearchResults(query, (), messages, (), full_text=indexed, more_messages=cursor,
                                 newest_only=bool(floor))
        clients = tuple(
            SearchHit(kind="client", id=r["id"], title=mark(r["name"], [query]), detail="",
                      at=r["last_contact"], snippet=mark(", ".join(r["emails"]), [query]), client_id=r["id"])
            for r in client_store.list_clients(conn, query, CLIENTS))
        tasks = tuple(
            SearchHit(kind="task", id=r["id"], title=mark(r["title"], words),
                      detail=" · ".join(x for x in (r["client_name"], r["status"], r["user"]) if x),
                      at=r["created_at"], client_id=r["client_id"], message_pk=r["source_message_pk"])
            for r in task_store.list_tasks(conn, state="all", words=tuple(words), limit=TASKS))
    return SearchResults(query, clients, messages, tasks, full_text=indexed, more_messages=cursor,
                         newest_only=bool(floor))
