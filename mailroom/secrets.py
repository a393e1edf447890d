"""Passwords, kept only in the OS keyring (service "mailroom").

The store holds no password and no copy of one: an account's keyring entry name is
derived from this install's id and the account ("outgoing", "mailbox:<id>"), so the
database needs no reference column. Keyring calls run off the calling thread with a
timeout, because an unlock prompt can hang (SECURITY.md #13). A missing backend, one
that cannot load, or one that would silently write plain text, is a clear error,
never a fallback (SECURITY.md #12). A plain-text file the user chose is used, and
`Secrets.set` says where it is.

Finding the best backend makes keyring import every backend it knows and read the
entry points of every installed package: on Linux ~45 ms more than loading the one it
finds (most of it loading the macOS backend), a tenth of a `mailroom fetch` that finds
nothing new. So the backend keyring found is remembered in the data folder (only one of
keyring's own, found without an explicit choice) and loaded directly next time, with the
same checks; when it no longer loads, keyring searches again. An explicit choice is
never remembered or overridden.
"""

from __future__ import annotations

import concurrent.futures
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import keyring
import keyring.backend
import keyring.errors
from keyring.backends.chainer import ChainerBackend

from mailroom import logs, paths
from mailroom.errors import CredentialError, Fix, MailroomError

SERVICE = "mailroom"
TIMEOUT_S = 30.0
T = TypeVar("T")


class Secret(str):
    """A password: a str whose repr and str in logs never show the value."""

    def __repr__(self) -> str:
        return "Secret('***')"


def outgoing_account() -> str:
    return "outgoing"


def mailbox_account(mailbox_id: int) -> str:
    return f"mailbox:{mailbox_id}"


def password_command(description: str | None = None) -> str:
    """The command that saves a password, quoted to paste into a shell as printed:
    the outgoing account's, or (with `description`) that mailbox's."""
    if description is None:
        return "mailroom password set outgoing"
    return shlex.join(["mailroom", "password", "set", "mailbox", description])


PLAINTEXT_BACKEND = "keyrings.alt.file.PlaintextKeyring"
PLAINTEXT_INSTALL = "pip install 'mailroom[plaintext-keyring]'"


def _how_to_fix() -> str:
    if sys.platform.startswith("linux"):
        return ("Install and unlock a Secret Service keyring (GNOME Keyring or KWallet), for "
                "example `apt install gnome-keyring`, and log in to a desktop session. To keep "
                f"passwords in a plain-text file instead, install it with `{PLAINTEXT_INSTALL}` "
                f"and choose it explicitly with PYTHON_KEYRING_BACKEND={PLAINTEXT_BACKEND}.")
    return "Make sure the system keychain (Windows Credential Manager / macOS Keychain) is available."


def _load_error(exc: Exception) -> CredentialError:
    """The chosen backend could not be loaded: name the choice and how to install it."""
    chosen = os.environ.get("PYTHON_KEYRING_BACKEND")
    source = (f"PYTHON_KEYRING_BACKEND={chosen}" if chosen
              else "the keyring configuration file (keyringrc.cfg)")
    message = (f"The password store chosen with {source} could not be loaded "
               f"({type(exc).__name__}: {exc}), so nothing was read or saved. ")
    if chosen and chosen.startswith("keyrings.alt"):
        message += f"It comes with the keyrings.alt package: install it with `{PLAINTEXT_INSTALL}`."
    else:
        message += "Check the name, or unset it to use the system keyring. " + _how_to_fix()
    return CredentialError(message, kind="keyring", field="password")


def _user_chose_backend() -> bool:
    """The user picked a backend explicitly (environment or keyringrc.cfg)."""
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    try:
        return keyring.core.load_config() is not None
    except Exception:  # a broken keyringrc.cfg: treat as not chosen, the backend check reports it
        return False


def backend() -> keyring.backend.KeyringBackend:
    """The keyring backend to use, or CredentialError saying what to install or enable."""
    user_chose = _user_chose_backend()
    try:
        chosen, detected = _resolve(user_chose)
        if isinstance(chosen, ChainerBackend) and not user_chose:
            # With several backends installed (e.g. the plaintext-keyring extra), keyring
            # chains them all: a password missing from the system keyring would then be
            # read from a plain file. Use the best one alone; below 1 is refused below.
            chosen = next(iter(chosen.backends), chosen)
    except Exception as exc:  # keyring imports whatever module was named: any error can come out
        raise _load_error(exc) from None
    global _checked
    if chosen is _checked:
        return chosen     # checked already: asking a D-Bus backend its rank opens a connection
    name = _name_of(chosen)
    if name.startswith(("keyring.backends.fail", "keyring.backends.null")):
        raise CredentialError("No password store (keyring) is available, so nothing was saved. "
                              + _how_to_fix(), kind="keyring", field="password")
    if not user_chose and chosen.priority < 1:
        # keyrings.alt's file backends rank below 1: a silent plain-text fallback.
        raise CredentialError(f"The only password store found ({name}) keeps passwords in a plain "
                              "file, so nothing was saved. " + _how_to_fix(),
                              kind="keyring", field="password")
    if detected:
        _remember(name)
    _checked = chosen
    return chosen


_checked: keyring.backend.KeyringBackend | None = None   # the backend that last passed backend()'s checks


def _name_of(store: keyring.backend.KeyringBackend) -> str:
    return type(store).__module__ + "." + type(store).__name__


REMEMBERED_FILE = "keyring-backend"       # in the data folder: the backend keyring found last
_REMEMBERED_PREFIX = "keyring.backends."  # only keyring's own backends are ever loaded from it


def _resolve(user_chose: bool) -> tuple[keyring.backend.KeyringBackend, bool]:
    """(the backend, whether keyring just searched for it). An explicit choice, or the
    backend this process already uses (keyring.set_keyring), comes from keyring as is;
    otherwise the remembered one, when it still loads and ranks as a real store."""
    if user_chose or getattr(keyring.core, "_keyring_backend", "unknown") is not None:
        return keyring.get_keyring(), False
    remembered = _remembered()
    if remembered is not None:
        keyring.set_keyring(remembered)    # this process's choice from now on, as keyring's own
        return remembered, False
    return keyring.get_keyring(), True


def _remembered() -> keyring.backend.KeyringBackend | None:
    """The remembered backend, loaded (keyring checks that it is usable here), or None when
    there is none, it is not one of keyring's own, or it no longer loads. (Those of
    keyring's own that rank below 1 are never remembered; should one rank below 1 all the
    same, backend() refuses it.)"""
    try:
        name = (paths.data_dir() / REMEMBERED_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError, MailroomError):
        return None
    if not name.startswith(_REMEMBERED_PREFIX) or name.startswith(
            ("keyring.backends.fail", "keyring.backends.null", "keyring.backends.chainer")):
        return None
    try:
        store = keyring.core.load_keyring(name)
        return store if isinstance(store, keyring.backend.KeyringBackend) else None
    except Exception:  # noqa: BLE001 - gone, or unusable here (no D-Bus...): keyring searches again
        return None


def _remember(name: str) -> None:
    """Remember the backend keyring found (one of its own); only a speed-up, so a folder
    that cannot be written is no error."""
    if not name.startswith(_REMEMBERED_PREFIX):
        return
    try:
        path = paths.data_dir() / REMEMBERED_FILE
    except MailroomError:
        return
    tmp = Path(f"{path}.{os.getpid()}.tmp")
    try:
        tmp.write_text(name + "\n", encoding="utf-8")
        os.replace(tmp, path)        # whole or not at all, should two processes write at once
    except OSError:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Stored:
    """Where a password was saved: `file` is set when it is a file on disk (e.g. keyrings.alt)."""

    backend: str
    file: str | None = None
    plain_text: bool = False

    @property
    def description(self) -> str:
        """ "the system keyring", or "a plain-text file, /path (not encrypted: ...)"."""
        if self.file is None:
            return "the system keyring"
        if self.plain_text:
            return (f"a plain-text file, {self.file} (not encrypted: anyone who can read that "
                    "file can read the password)")
        return f"a file, {self.file}"


def stored_in(store: keyring.backend.KeyringBackend) -> Stored:
    """Where `store` keeps passwords, as far as the backend tells."""
    name = _name_of(store)
    path = getattr(store, "file_path", None)
    if not isinstance(path, str):
        return Stored(name)
    # keyrings.alt's file backends name their scheme; the plain one is "no encyption" (sic).
    scheme = str(getattr(store, "scheme", "")).lower()
    plain = "plaintext" in name.lower() or "no enc" in scheme
    return Stored(name, path, plain)


class Secrets:
    """Get and set account passwords for one install."""

    def __init__(self, install_id: str, timeout: float = TIMEOUT_S):
        self._install_id = install_id
        self._timeout = timeout

    def _name(self, account: str) -> str:
        return f"{self._install_id}:{account}"

    def _call(self, fn: Callable[[], T]) -> T:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyring")
        try:
            return pool.submit(fn).result(timeout=self._timeout)
        except concurrent.futures.TimeoutError:
            raise CredentialError("The password store did not answer in time; it may be locked "
                                  "and waiting for you to unlock it.", kind="keyring",
                                  field="password") from None
        except keyring.errors.KeyringError as exc:
            raise CredentialError(f"The password store refused: {type(exc).__name__}. "
                                  + _how_to_fix(), kind="keyring", field="password") from None
        finally:
            pool.shutdown(wait=False)

    def get(self, account: str) -> Secret | None:
        store = backend()
        value = self._call(lambda: store.get_password(SERVICE, self._name(account)))
        if value is None:
            return None
        logs.redact(value)
        return Secret(value)

    def require(self, account: str, what: str) -> Secret:
        """The password of `account`, or CredentialError whose `fix` says where to save it.

        `what` names the account for the user, as the callers word it: "the outgoing
        account", or 'mailbox "DESCRIPTION"' (the description is taken from it).
        """
        value = self.get(account)
        if not value:
            if account == outgoing_account():
                fix = Fix("outgoing", "password")
            else:
                description = what.removeprefix('mailbox "').removesuffix('"') if what.startswith(
                    'mailbox "') and what.endswith('"') else what
                fix = Fix("mailboxes", "password", description)
            raise CredentialError(f"No password is saved for {what}.", field="password", fix=fix)
        return value

    def delete(self, account: str) -> bool:
        """Remove the password of `account`; False when there was none."""
        store = backend()
        try:
            self._call(lambda: store.delete_password(SERVICE, self._name(account)))
        except CredentialError:
            if self._call(lambda: store.get_password(SERVICE, self._name(account))) is None:
                return False  # keyring raises PasswordDeleteError for a missing entry
            raise
        return True

    def set(self, account: str, password: str) -> Stored:
        """Save the password; tell where it went (a plain-text file must be said out loud)."""
        store = backend()
        logs.redact(password)
        self._call(lambda: store.set_password(SERVICE, self._name(account), password))
        return stored_in(store)
