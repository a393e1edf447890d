"""The full-text index of messages, and the searches of the header's search box.

On SQLite the index is an FTS5 table, `message_search`, over the subject, sender and
body text of `messages` (an external-content table: it holds only the index, the text
stays in `messages`). A message is indexed by `index_message`, which
`records.insert_message` calls on the import's own connection, so the index entry
commits or rolls back with the message (migration 0006_search indexed the mail
imported before). Results are ranked by BM25, subject and sender weighing more than
the body, with the matching words marked for the page to highlight.

On any other store (PostgreSQL), or a SQLite built without FTS5, there is no index:
messages are then matched with LIKE, every word of the query in the subject, sender
or body, newest first, and `SearchResults.full_text` says so. That is a scan of every
message, acceptable for a small studio's store; a PostgreSQL port would add a
`tsvector` column with a GIN index here.

Must not: build a MATCH expression from the user's text other than through `terms`
(FTS5 query syntax is a language of its own: a stray quote is an error).
"""

from __future__ import annotations

import re
import weakref

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailroom.store import schema as s

TABLE = "message_search"
CREATE = (f"CREATE VIRTUAL TABLE {TABLE} USING fts5(subject, from_name, from_addr, text, "
          "content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
REBUILD = f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')"

# Around each matching word in a snippet; control characters no mail text keeps.
START, END = "\x02", "\x03"
MAX_TERMS = 8
MAX_TERM = 64
RANKED = 5000      # the newest matching messages ranked; see rank_floor
_TERM = re.compile(r"\w+", re.UNICODE)

_INDEX = sa.text(f"INSERT INTO {TABLE}(rowid, subject, from_name, from_addr, text) "
                 "VALUES (:pk, :subject, :from_name, :from_addr, :text)")
_known: "weakref.WeakKeyDictionary[sa.Engine, bool]" = weakref.WeakKeyDictionary()


def has_index(conn: Connection) -> bool:
    """Whether this store has the FTS5 index (remembered per engine once found)."""
    if conn.dialect.name != "sqlite":
        return False
    engine = conn.engine
    if _known.get(engine):
        return True
    found = conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
                         {"name": TABLE}).first() is not None
    if found:
        _known[engine] = True
    return found


def index_message(conn: Connection, pk: int, *, subject: str, from_name: str, from_addr: str, text: str) -> None:
    """Index one stored message, in the caller's transaction (nothing on a store without the index)."""
    if has_index(conn):
        conn.execute(_INDEX, {"pk": pk, "subject": subject, "from_name": from_name, "from_addr": from_addr,
                              "text": text})


def terms(query: str) -> list[str]:
    """The words of a query, as the index splits text (at most MAX_TERMS, each cut to MAX_TERM)."""
    return [t[:MAX_TERM] for t in _TERM.findall(query or "")][:MAX_TERMS]


def match_expression(words: list[str]) -> str:
    """An FTS5 query: every word (each quoted, so nothing in it is syntax); the last one
    also as a prefix, so a word still being typed finds its completions."""
    quoted = [f'"{w}"' for w in words]
    if quoted:
        quoted[-1] += "*"
    return " AND ".join(quoted)


def rank_floor(conn: Connection, words: list[str]) -> int:
    """The lowest id among the newest RANKED messages matching `words` (0 when fewer
    match): ranking is bounded to those. BM25 costs the same for every match, and a word
    in most of 50,000 messages took longer than the page may; for a word that common,
    the newest mail is what is looked for. (This OFFSET is inside one query, not paging.)"""
    found = conn.execute(sa.text(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :match "
                                 "ORDER BY rowid DESC LIMIT 1 OFFSET :skip"),
                         {"match": match_expression(words), "skip": RANKED - 1}).scalar()
    return found or 0


def search_messages(conn: Connection, words: list[str], limit: int, floor: int = 0,
                    after: tuple[float, int] | None = None) -> list[dict]:
    """Messages matching every word, best first, among those with an id of at least `floor`
    (see rank_floor): dicts with the message's fields, `score` (lower is better),
    `subject_marked` and `snippet` (START/END around matches). `after` is the (score, id)
    of the last one shown (keyset paging)."""
    if not words:
        return []
    rank = f"bm25({TABLE}, 8.0, 4.0, 4.0, 1.0)"
    sql = (f"SELECT m.id, m.direction, m.subject, m.from_name, m.from_addr, m.date, m.created_at, "
           f"m.client_id, highlight({TABLE}, 0, :start, :end) AS subject_marked, "
           f"snippet({TABLE}, 3, :start, :end, '…', 24) AS snippet, {rank} AS score "
           f"FROM {TABLE} JOIN messages AS m ON m.id = {TABLE}.rowid "
           f"WHERE {TABLE} MATCH :match AND {TABLE}.rowid >= :floor")
    params = {"start": START, "end": END, "match": match_expression(words), "limit": limit, "floor": floor}
    if after is not None:
        sql += f" AND ({rank} > :score OR ({rank} = :score AND m.id > :id))"
        params.update(score=after[0], id=after[1])
    sql += " ORDER BY score, m.id LIMIT :limit"
    rows = conn.execute(sa.text(sql).columns(date=s.UTCDateTime, created_at=s.UTCDateTime), params).mappings()
    return [dict(r) for r in rows]


def like_messages(conn: Connection, words: list[str], limit: int, after: int | None = None) -> list[dict]:
    """Without the index: messages whose subject, sender or body contain every word,
    newest first; `after` is the id of the last one shown."""
    if not words:
        return []
    m = s.messages
    where = [sa.or_(*(col.icontains(w, autoescape=True) for col in (m.c.subject, m.c.from_name, m.c.from_addr,
                                                                     m.c.text))) for w in words]
    if after is not None:
        where.append(m.c.id < after)
    query = (sa.select(m.c.id, m.c.direction, m.c.subject, m.c.from_name, m.c.from_addr, m.c.date, m.c.created_at,
                       m.c.client_id, m.c.text).where(*where).order_by(m.c.id.desc()).limit(limit))
    return [dict(r) for r in conn.execute(query).mappings()]
