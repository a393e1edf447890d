"""Passwords, kept only in the OS keyring (service "mailroom").

The store holds no password and no copy of one: an account's keyring entry name is
derived from this install's id and the account ("outgoing", "mailbox:<id>"), so the
database needs no reference column. Keyring calls run off the calling thread with a
timeout, because an unlock prompt can hang (SECURITY.md #13). A missing backend, one
that cannot load, or one that would silently write plain text, is a clear error,
never a fallback (SECURITY.md #12). A plain-text file the user chose is used, and
`Secrets.set` says where it is.
"""

from __future__ import annotations

import concurrent.futures
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import keyring
import keyring.backend
import keyring.errors
from keyring.backends.chainer import ChainerBackend

from mailroom import logs
from mailroom.errors import CredentialError, Fix

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
    try:
        chosen = keyring.get_keyring()
        if isinstance(chosen, ChainerBackend) and not _user_chose_backend():
            # With several backends installed (e.g. the plaintext-keyring extra), keyring
            # chains them all: a password missing from the system keyring would then be
            # read from a plain file. Use the best one alone; below 1 is refused below.
            chosen = next(iter(chosen.backends), chosen)
    except Exception as exc:  # keyring imports whatever module was named: any error can come out
        raise _load_error(exc) from None
    name = type(chosen).__module__ + "." + type(chosen).__name__
    if name.startswith(("keyring.backends.fail", "keyring.backends.null")):
        raise CredentialError("No password store (keyring) is available, so nothing was saved. "
                              + _how_to_fix(), kind="keyring", field="password")
    if not _user_chose_backend() and chosen.priority < 1:
        # keyrings.alt's file backends rank below 1: a silent plain-text fallback.
        raise CredentialError(f"The only password store found ({name}) keeps passwords in a plain "
                              "file, so nothing was saved. " + _how_to_fix(),
                              kind="keyring", field="password")
    return chosen


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
    name = type(store).__module__ + "." + type(store).__name__
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
