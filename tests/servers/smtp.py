"""Real SMTP servers for the tests and the benchmarks (aiosmtpd, in threads of this process).

Listeners on 127.0.0.1, each on a free port, all capturing into one `Capture`:
- submission: STARTTLS required before anything, then AUTH required (like port 587);
- smtps: implicit TLS, AUTH required (like port 465);
- smtps_untrusted: implicit TLS with the self-signed "Untrusted Test CA" certificate;
- plain: no STARTTLS offered at all, AUTH offered in the clear and not required, so a
  client that falls back to plain text (instead of failing) shows up in the capture with
  its login and tls=False.

aiosmtpd 1.4 traps handled here:
- with implicit TLS it counts only STARTTLS as TLS (aio-libs/aiosmtpd#281), so AUTH would
  never be offered on the smtps listeners: they use an SMTP subclass that lifts
  auth_require_tls after construction, which also avoids the "Requiring AUTH while not
  requiring TLS" warning (an error under filterwarnings = error);
- session.ssl is None under implicit TLS: TLS is read from the transport instead;
- aiosmtpd itself touches its deprecated Session.login_data on every AUTH and logs a
  warning on "mail.log" each time: that one message is filtered out.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from .certs import CertPaths
from .ports import HOST, free_port

_LISTENERS = ("submission", "smtps", "smtps_untrusted", "plain")


class _DropLoginDataDeprecation(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


_mail_log = logging.getLogger("mail.log")
if not any(isinstance(f, _DropLoginDataDeprecation) for f in _mail_log.filters):
    _mail_log.addFilter(_DropLoginDataDeprecation())


class Capture:
    """Every message any listener accepted, in arrival order (thread-safe).

    Each entry is a dict: listener, mail_from, rcpt_tos, login (str or None), tls (bool),
    msg (email.message.EmailMessage), raw (bytes).
    `refuse` maps a recipient address to the reply RCPT gets instead of 250, e.g.
    {"gone@example.com": "550 5.1.1 No such user"}; `clear()` empties it too.
    """

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.refuse: dict[str, str] = {}
        self._changed = threading.Condition()

    def add(self, entry: dict[str, Any]) -> None:
        with self._changed:
            self.messages.append(entry)
            self._changed.notify_all()

    def clear(self) -> None:
        with self._changed:
            self.messages.clear()
            self.refuse.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least `count` messages arrived; return a copy of the list."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} message(s) captured after {timeout} s, expected {count}")
            return list(self.messages)

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self.messages))

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.messages[index]


class _Handler:
    """aiosmtpd handler for one listener; stores into the shared Capture."""

    def __init__(self, capture: Capture, listener: str) -> None:
        self.capture = capture
        self.listener = listener

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        """Refuse the recipients listed in `capture.refuse` with the reply given there."""
        reply = self.capture.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        auth = session.auth_data
        self.capture.add(
            {
                "listener": self.listener,
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "login": auth.login.decode() if isinstance(auth, LoginPassword) else None,
                # session.ssl stays None under implicit TLS; the transport knows
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "msg": email.message_from_bytes(envelope.content, policy=email.policy.default),
                "raw": envelope.content,
            }
        )
        return "250 Message accepted for delivery"


class _ImplicitTlsSMTP(SMTP):
    """On an implicit-TLS socket AUTH must not wait for a STARTTLS that never comes."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **{**kwargs, "auth_require_tls": True})
        self._auth_require_tls = False  # aiosmtpd 1.4: see aio-libs/aiosmtpd#281


class _ImplicitTlsController(Controller):
    def factory(self) -> SMTP:
        return _ImplicitTlsSMTP(self.handler, **self.SMTP_kwargs)


def _quiet_tls_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # A client rejecting our certificate is what the untrusted listener is for; asyncio
    # would log a traceback for every such handshake.
    if isinstance(context.get("exception"), (ssl.SSLError, ConnectionError)):
        return
    loop.default_exception_handler(context)


def _authenticator(users: dict[str, str]):
    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = users.get(auth_data.login.decode()) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate


class SmtpServers:
    """The four listeners. Ports are chosen once; down()/up() keep them."""

    def __init__(self, certs: CertPaths, users: dict[str, str]) -> None:
        self.certs = certs
        self.users = users  # the authenticator reads this dict live: tests may add users
        self.host = HOST
        self.capture = Capture()
        self.submission_port = free_port()
        self.smtps_port = free_port()
        self.smtps_untrusted_port = free_port()
        self.plain_port = free_port()
        self.startup_seconds: float | None = None
        self._controllers: list[Controller] = []

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.capture.messages

    def is_up(self) -> bool:
        return bool(self._controllers)

    def up(self) -> float:
        """Start every listener; return the seconds taken."""
        if self._controllers:
            raise RuntimeError("the SMTP servers are already up")
        t0 = time.monotonic()
        trusted = self.certs.server_context()
        untrusted = self.certs.server_context(untrusted=True)
        auth = dict(authenticator=_authenticator(self.users), auth_required=True, server_hostname="localhost")
        specs: list[tuple[type[Controller], str, int, dict[str, Any]]] = [
            (Controller, "submission", self.submission_port,
             dict(tls_context=trusted, require_starttls=True, auth_require_tls=True, **auth)),
            (_ImplicitTlsController, "smtps", self.smtps_port, dict(ssl_context=trusted, **auth)),
            (_ImplicitTlsController, "smtps_untrusted", self.smtps_untrusted_port,
             dict(ssl_context=untrusted, **auth)),
            (Controller, "plain", self.plain_port,
             dict(authenticator=_authenticator(self.users), auth_required=False, auth_require_tls=False,
                  server_hostname="localhost")),
        ]  # fmt: skip
        try:
            for cls, name, port, kwargs in specs:
                controller = cls(_Handler(self.capture, name), hostname=HOST, port=port, **kwargs)
                controller.loop.set_exception_handler(_quiet_tls_failures)
                controller.start()  # returns once the server answered a connection
                self._controllers.append(controller)
        except Exception as exc:
            self.down()
            raise RuntimeError(f"aiosmtpd {name} listener did not start on {HOST}:{port}: {exc!r}") from exc
        self.startup_seconds = time.monotonic() - t0
        return self.startup_seconds

    def down(self) -> None:
        """Stop every listener (connections are refused until up())."""
        controllers, self._controllers = self._controllers, []
        for controller in controllers:
            controller.stop()

    stop = down

    @contextlib.contextmanager
    def temporarily_down(self) -> Iterator[None]:
        """`with smtp.temporarily_down(): ...` - refused inside, back on the same ports after."""
        self.down()
        try:
            yield
        finally:
            self.up()


def start_smtp(certs: CertPaths, users: dict[str, str]) -> SmtpServers:
    """Start all listeners (see the module docstring); call .stop() when done."""
    servers = SmtpServers(certs, users)
    servers.up()
    return servers
