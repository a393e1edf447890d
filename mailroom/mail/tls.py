"""TLS contexts for mail servers: verified by default, against the OS trust store.

The stdlib's POP3_SSL/SMTP_SSL default context does not verify certificates; ours
always does (SECURITY.md #15): truststore for the OS store, plus an optional
per-account CA file. `peek_certificate` exists only to *describe* a certificate that
already failed verification (its issuer, for the error message).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

import truststore
from cryptography import x509
from cryptography.x509.oid import NameOID

from mailroom.errors import ConnectError


def client_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context: OS trust store plus `ca_file` when given."""
    ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f"The CA file {ca_file} could not be read: {exc.strerror or exc}",
                               kind="certificate", field="ca_file") from None
    return ctx


@dataclass(frozen=True)
class CertificateFacts:
    subject: str
    issuer: str
    not_after: str


def _name(name: x509.Name) -> str:
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        attrs = name.get_attributes_for_oid(oid)
        if attrs:
            return str(attrs[0].value)
    return name.rfc4514_string() or "(no name)"


def describe_certificate(der: bytes) -> CertificateFacts:
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
