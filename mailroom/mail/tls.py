"""TLS contexts for mail servers: verified by default, against the OS trust store.

The stdlib's POP3_SSL/SMTP_SSL default context does not verify certificates; ours
always does (SECURITY.md #15): the OS store, plus an optional per-account CA file.
`peek_certificate` exists only to *describe* a certificate that already failed
verification (its issuer, for the error message), and `plain_greeting` only to name
the kind of server that answered an SSL handshake in plain text.

A client context is made once per CA file and shared (it is never changed after it
is made, so sharing it between threads is safe, and no verification setting can leak
from one account to another). Where the OS store is OpenSSL's (Linux, BSD), it is
loaded into the context once: truststore would reload the whole bundle on every
connection (~20-30 ms) and hold one lock across every handshake made with the
context. On macOS and Windows truststore asks the OS to verify each handshake; there
a context is made per connection, so one slow handshake never waits on another.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import sys
import threading
import time

from mailroom.errors import ConnectError
from mailroom.model import CertificateFacts, Endpoint


_OS_VERIFIES = sys.platform in ("darwin", "win32")   # truststore verifies through the OS there
# Where truststore looks when OpenSSL's own default paths hold no certificates (its
# _openssl.py: a frozen app's OpenSSL may point at its build machine's folders).
_CA_BUNDLES = ("/etc/ssl/cert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/pki/tls/cert.pem",
               "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/ca-bundle.pem")
_HASHED = re.compile(r"^[0-9a-fA-F]{8}\.[0-9]$")     # OpenSSL's hashed certificate names
_contexts: dict[tuple, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def client_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context: OS trust store plus `ca_file` when given.

    Shared per CA file (and that file's size and modification time, so a replaced CA
    file is read again); callers must not change it.
    """
    if _OS_VERIFIES:
        import truststore

        return _with_ca_file(truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT), ca_file)
    key = (ca_file, _stamp(ca_file))
    with _contexts_lock:
        ctx = _contexts.get(key)
        if ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # verifies, and checks the host name
            _load_os_store(ctx)
            _contexts[key] = ctx = _with_ca_file(ctx, ca_file)
    return ctx


def _stamp(ca_file: str | None) -> tuple[int, int] | None:
    try:
        st = os.stat(ca_file) if ca_file else None
    except OSError:
        return None                          # _with_ca_file reports it
    return (st.st_size, st.st_mtime_ns) if st else None


def _load_os_store(ctx: ssl.SSLContext) -> None:
    """The OS store as truststore finds it on OpenSSL systems: OpenSSL's default paths,
    else the first of the usual bundle files."""
    defaults = ssl.get_default_verify_paths()
    capath = defaults.capath
    if defaults.cafile or (capath and os.path.isdir(capath) and any(map(_HASHED.match, os.listdir(capath)))):
        ctx.set_default_verify_paths()
        return
    for bundle in _CA_BUNDLES:
        if os.path.isfile(bundle):
            ctx.load_verify_locations(cafile=bundle)
            return


def _with_ca_file(ctx: ssl.SSLContext, ca_file: str | None) -> ssl.SSLContext:
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except ssl.SSLError:
            # OpenSSL's own text ("[X509: NO_CERTIFICATE_OR_CRL_FOUND] ... (_ssl.c:4154)") means
            # nothing to the reader: the file is there, but holds no certificate OpenSSL can use.
            raise ConnectError(f"The CA file {ca_file} does not hold a certificate Mailroom can use. Give the "
                               "file of the server's CA certificate in PEM format (it begins with "
                               '"-----BEGIN CERTIFICATE-----"), or leave the field empty.',
                               kind="certificate", field="ca_file") from None
        except OSError as exc:
            raise ConnectError(f"The CA file {ca_file} could not be read: {exc.strerror or exc}.",
                               kind="certificate", field="ca_file") from None
    return ctx


def _name(name) -> str:
    from cryptography.x509.oid import NameOID

    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        attrs = name.get_attributes_for_oid(oid)
        if attrs:
            return str(attrs[0].value)
    return name.rfc4514_string() or "(no name)"


def describe_certificate(der: bytes) -> CertificateFacts:
    # cryptography is loaded only here, to describe a certificate that failed: a poll
    # that finds nothing new would otherwise spend ~40 ms of its start-up loading it.
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return CertificateFacts(subject=_name(cert.subject), issuer=_name(cert.issuer),
                            not_after=cert.not_valid_after_utc.date().isoformat())


def _diagnostic_context() -> ssl.SSLContext:
    """The one unverified context: for describing a failure, never for a session.

    Used only to read a certificate that verification already rejected, or to ask
    whether a port speaks TLS at all; nothing (no login, no message) is ever sent over it.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def peek_certificate(sock: socket.socket, host: str) -> CertificateFacts | None:
    """Read the server certificate after verification failed, to name its issuer.

    The handshake here deliberately skips verification: nothing is sent over this
    connection and it is closed at once; it never carries a login or a message.
    """
    try:
        with _diagnostic_context().wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    return describe_certificate(der) if der else None


def plain_greeting(host: str, port: int, timeout: float) -> str | None:
    """The first line a port sends on a plain connection, or None (silence, or nothing
    readable in time). Asked when an SSL handshake failed because the server answered in
    plain text: is it another kind of server? Nothing is sent over the connection."""
    deadline = time.monotonic() + timeout
    data = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            while b"\n" not in data and len(data) < 512:       # a greeting is one short line
                raw.settimeout(max(deadline - time.monotonic(), 0.01))
                chunk = raw.recv(512)
                if not chunk:
                    break
                data += chunk
    except OSError:
        pass
    line = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    return line or None


def expects_ssl(ep: Endpoint) -> bool:
    """A client without SSL got no greeting: is it because the port expects SSL from the
    first byte (the security setting is wrong)? The one probe POP3 and SMTP both ask."""
    return ep.security != "ssl" and port_speaks_tls(ep.host, ep.port, ep.timeout)


def port_speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Does this port expect a TLS handshake? Asked when a plain client got no greeting.

    Only the handshake happens; nothing is sent over the connection.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with _diagnostic_context().wrap_socket(raw, server_hostname=host):
                return True
    except (OSError, ssl.SSLError):
        return False
