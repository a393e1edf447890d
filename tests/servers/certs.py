"""Throwaway TLS certificates for the test servers, made with the openssl command line.

Two trust situations, so tests can prove both that TLS is verified and that failures name
the problem:
- a private CA and a server certificate for localhost/127.0.0.1 signed by it (trusted when
  the client loads `ca_crt`);
- a self-signed certificate for the same names whose subject and issuer read
  "Untrusted Test CA" (trusted by nobody).

Both certificates carry SKI/AKI: Python 3.13's default VERIFY_X509_STRICT requires them.
Keys are RSA 2048 and never leave the given directory.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import ssl
import subprocess
from pathlib import Path

UNTRUSTED_CN = "Untrusted Test CA"
CA_CN = "Mailroom Test CA"
_SAN = "subjectAltName=DNS:localhost,IP:127.0.0.1"
_SERVER_EXT = f"""\
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
{_SAN}
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
"""


@dataclasses.dataclass(frozen=True)
class CertPaths:
    directory: Path
    ca_crt: Path  # the test CA: clients trust this one
    ca_key: Path
    server_crt: Path  # localhost + 127.0.0.1, signed by the test CA
    server_key: Path
    untrusted_crt: Path  # self-signed, CN "Untrusted Test CA", same names
    untrusted_key: Path

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the test CA."""
        return ssl.create_default_context(cafile=str(self.ca_crt))

    def server_context(self, *, untrusted: bool = False) -> ssl.SSLContext:
        """A server-side context with the CA-signed (or the self-signed) certificate."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if untrusted:
            ctx.load_cert_chain(self.untrusted_crt, self.untrusted_key)
        else:
            ctx.load_cert_chain(self.server_crt, self.server_key)
        return ctx


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError("openssl is not on PATH (tests/run.sh installs it)")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed:\n{proc.stderr}")


def make_ca_and_server_cert(directory: str | os.PathLike[str]) -> CertPaths:
    """Create the test CA, its localhost server certificate and the untrusted self-signed one."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = CertPaths(
        directory=d,
        ca_crt=d / "ca.crt",
        ca_key=d / "ca.key",
        server_crt=d / "server.crt",
        server_key=d / "server.key",
        untrusted_crt=d / "untrusted.crt",
        untrusted_key=d / "untrusted.key",
    )
    (d / "server.ext").write_text(_SERVER_EXT)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        "-subj", f"/O=Mailroom tests/CN={CA_CN}",
        "-keyout", "ca.key", "-out", "ca.crt",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr",
        cwd=d,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "3650", "-extfile", "server.ext", "-out", "server.crt",
        cwd=d,
    )  # fmt: skip
    # Self-signed: issuer == subject == "Untrusted Test CA", valid for the same names, so
    # the only thing wrong with it is that no one trusts it.
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        "-subj", f"/O=Mailroom tests/CN={UNTRUSTED_CN}",
        "-keyout", "untrusted.key", "-out", "untrusted.crt",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
        "-addext", "extendedKeyUsage=serverAuth",
        "-addext", _SAN,
        cwd=d,
    )  # fmt: skip
    for key in (paths.ca_key, paths.server_key, paths.untrusted_key):
        key.chmod(0o600)
    _openssl("verify", "-CAfile", "ca.crt", "server.crt", cwd=d)
    return paths
