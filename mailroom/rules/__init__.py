"""The rules: every decision Mailroom makes about a message, as pure functions.

Who is the client, is this a reply, does it get a task, does it get an auto-reply,
what does the template render to and what does that reply look like: each is a
function from frozen dataclasses to a frozen dataclass (`Matched`, `ReplyInfo`,
`CreateTask`, `SendReply`, `Skip`, ...). The shell (`mailroom/worker.py`) looks up the
facts, calls `decide()` and carries the decision out.

This package must never do I/O: no sockets, no database, no files, no keyring, no
logging side channels, no reading the clock and no randomness. The current time,
new ids, secrets and settings are passed in, so every rule is a table test.
"""
