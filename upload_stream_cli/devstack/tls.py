"""A throw-away certificate authority for the secured local broker, made with `openssl`.

One CA signs the broker's certificate (SAN `IP:127.0.0.1` and `DNS:localhost`, so
librdkafka's default hostname check passes) and one client certificate per name (mTLS:
the broker maps `CN=<name>` to `User:<name>`). Nothing here is meant to outlive the
broker's work dir; the keys are RSA 2048, valid for a day.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from upload_stream_cli.devstack.errors import MissingToolError, StackError

_DAYS = "1"


@dataclass(frozen=True)
class BrokerTls:
    """The files of the broker's TLS set-up: the CA (PEM), and its key store (PKCS12)."""

    ca_pem: Path
    keystore: Path
    keystore_password: str


@dataclass(frozen=True)
class ClientCertificate:
    """A client certificate (PEM), its encrypted key (PEM) and that key's password."""

    certificate: Path
    key: Path
    key_password: str


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        raise MissingToolError("openssl is not on PATH: the secured broker's certificates need it")
    return found


def _run(*args: str, cwd: Path) -> None:
    done = subprocess.run([_openssl(), *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StackError(f"openssl {args[0]} failed: {done.stderr.strip()[-500:]}")


class CertificateAuthority:
    """A CA in `directory`: `broker()` and `client(name)` issue certificates it signs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_pem = directory / "ca.pem"
        self._ca_key = directory / "ca.key"
        _run(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", _DAYS,
            "-subj", "/CN=upload-stream dev CA",
            "-keyout", str(self._ca_key), "-out", str(self.ca_pem),
            cwd=directory,
        )  # fmt: skip

    def _issue(self, name: str, subject: str, extensions: str) -> tuple[Path, Path]:
        key, csr, cert = (self.directory / f"{name}.{ext}" for ext in ("key", "csr", "pem"))
        ext_file = self.directory / f"{name}.ext"
        ext_file.write_text(extensions, encoding="utf-8")
        _run(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
            "-keyout", str(key), "-out", str(csr),
            cwd=self.directory,
        )  # fmt: skip
        _run(
            "x509", "-req", "-in", str(csr), "-CA", str(self.ca_pem), "-CAkey", str(self._ca_key),
            "-CAcreateserial", "-days", _DAYS, "-extfile", str(ext_file), "-out", str(cert),
            cwd=self.directory,
        )  # fmt: skip
        return cert, key

    def broker(self) -> BrokerTls:
        """The broker's key store: its certificate and key in PKCS12 (what Kafka reads)."""
        cert, key = self._issue(
            "broker",
            "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        password = secrets.token_hex(12)
        keystore = self.directory / "broker.p12"
        _run(
            "pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-name", "broker",
            "-out", str(keystore), "-passout", f"pass:{password}",
            cwd=self.directory,
        )  # fmt: skip
        return BrokerTls(ca_pem=self.ca_pem, keystore=keystore, keystore_password=password)

    def client(self, name: str) -> ClientCertificate:
        """A client certificate for `CN=<name>`, its key encrypted with a fresh password
        (so `ssl.key.password` is exercised, and masked)."""
        cert, plain_key = self._issue(
            f"client-{name}", f"/CN={name}", "extendedKeyUsage=clientAuth\n"
        )
        password = secrets.token_hex(12)
        key = self.directory / f"client-{name}.enc.key"
        _run(
            "pkey", "-in", str(plain_key), "-aes256", "-passout", f"pass:{password}",
            "-out", str(key),
            cwd=self.directory,
        )  # fmt: skip
        plain_key.unlink()
        return ClientCertificate(certificate=cert, key=key, key_password=password)
