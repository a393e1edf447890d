"""TLS client contexts: made once per CA file, shared between threads, still verifying.

Reloading the OS bundle for every connection cost ~20-30 ms of each idle poll; a shared
context must still verify, and one account's CA file must never make another trust it.
"""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from mailroom.errors import ConnectError
from mailroom.mail.tls import client_context


def handshake(ctx: ssl.SSLContext, port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
            pass


def test_one_context_per_ca_file_shared_by_every_thread(certs, tmp_path):
    found: list[ssl.SSLContext] = []
    start = threading.Barrier(8)

    def make() -> None:
        start.wait()
        found.append(client_context(str(certs.ca_crt)))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(ctx) for ctx in found}) == 1
    assert client_context(str(certs.ca_crt)) is found[0]
    assert client_context(None) is client_context(None) is not found[0]
    copy = tmp_path / "ca.pem"
    copy.write_bytes(certs.ca_crt.read_bytes())
    assert client_context(str(copy)) is not found[0]


def test_a_replaced_ca_file_is_read_again(certs, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(certs.untrusted_crt.read_bytes())
    before = client_context(str(ca))
    ca.write_bytes(certs.ca_crt.read_bytes() + b"\n")           # renewed: other bytes, other size
    assert client_context(str(ca)) is not before


def test_shared_contexts_still_verify_and_keep_each_accounts_ca_file(dovecot, certs):
    for ctx in (client_context(None), client_context(str(certs.ca_crt))):
        assert (ctx.verify_mode, ctx.check_hostname) == (ssl.CERT_REQUIRED, True)
    handshake(client_context(str(certs.ca_crt)), dovecot.pop3s_port)       # trusted through its CA file
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(client_context(None), dovecot.pop3s_port)                # not for an account without it
    with pytest.raises(ConnectError) as caught:
        client_context("/nonexistent/ca.pem")
    assert caught.value.field == "ca_file"
