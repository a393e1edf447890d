"""The rules: every decision Mailroom makes about a message, as pure functions.

Who is the client, is this a reply, does it get a task, does it get an auto-reply,
what does the template render to and what does that reply look like, which messages
the cutoff skips, which step an auto-reply in the outbox takes next, and which words
explain a failed connection: each is a function from frozen dataclasses to a frozen
dataclass (`Matched`, `ReplyInfo`, `CreateTask`, `SendReply`, `Skip`, ...) or a table.
The shell carries the decisions out: `mailroom/importer.py` looks up a message's facts
in the store, calls `decide()` and records the decision; `mailroom/fetch.py`,
`mailroom/outbox.py` and the mail clients ask the others.

This package must never do I/O: no sockets, no database, no files, no keyring, no
logging side channels, no reading the clock and no randomness. The current time,
new ids, secrets and settings are passed in, so every rule is a table test.
"""
