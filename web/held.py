"""Passwords typed into a form whose test failed, held for the user's next try.

A password field is never filled in (SECURITY.md 11), so after a failed test the user
would have to type the password again, and "Save anyway" would save the mailbox
without one. Instead the typed password is held here: in this process's memory only
(never the session cookie, a file, the database or a page), for one form of one
signed-in session, for a few minutes. It is used when that form comes back with the
password field empty, and dropped when the form is saved, opened afresh, or the user
forgets it; a restart forgets everything.

Must not: render, log or return a held password to anything but the view of the form
it was typed into.
"""

from __future__ import annotations

import secrets
import threading
import time

from flask import current_app, session

HOLD_SECONDS = 600      # as long as fixing a field and trying again takes
MAX_HELD = 64           # forms held at once; the oldest go first


class HeldPasswords:
    """(session, form) → password and deadline, behind a lock (the page serves on several threads)."""

    def __init__(self, seconds: float = HOLD_SECONDS, clock=time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], tuple[str, float]] = {}

    def hold(self, sid: str, form: str, password: str) -> None:
        with self._lock:
            self._held.pop((sid, form), None)
            self._held[(sid, form)] = (password, self._clock() + self.seconds)
            while len(self._held) > MAX_HELD:
                del self._held[next(iter(self._held))]

    def get(self, sid: str, form: str) -> str | None:
        now = self._clock()
        with self._lock:
            for key in [k for k, (_p, deadline) in self._held.items() if deadline <= now]:
                del self._held[key]
            found = self._held.get((sid, form))
        return found[0] if found else None

    def drop(self, sid: str, form: str) -> None:
        with self._lock:
            self._held.pop((sid, form), None)


def _store() -> HeldPasswords:
    # One per app (tests build many apps in one process); dict.setdefault is atomic.
    return current_app.extensions.setdefault(
        "mailroom.held", HeldPasswords(current_app.config.get("HOLD_PASSWORD_SECONDS", HOLD_SECONDS)))


def _sid() -> str:
    # A random name for this signed-in session's held passwords: not a secret (the
    # signed cookie is what signs in); it only keeps two sessions' forms apart.
    if "held" not in session:
        session["held"] = secrets.token_urlsafe(16)
    return session["held"]


def hold(form: str, password: str) -> None:
    """Keep `password` for the next try of `form` ("outgoing", "mailbox:new", "mailbox:Sales")."""
    _store().hold(_sid(), form, password)


def held(form: str) -> str | None:
    """The password held for `form` in this session, if any and not expired."""
    return _store().get(_sid(), form)


def drop(form: str) -> None:
    _store().drop(_sid(), form)
