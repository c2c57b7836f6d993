"""How a recorded run calls a server over HTTPS, as Prefect's client would: the settings'
CA bundle, no verification when told, certifi's CAs otherwise, and the client's headers
(``flows/recorded_run.py``). A small HTTPS server with a certificate of its own answers."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from assay.flows.prefect_api import PrefectServer
from assay.flows.recorded_run import Refused, RestApi

SEEN: list[dict[str, str]] = []


class _Refusing(BaseHTTPRequestHandler):
    """Answers every POST 403, keeping the request's headers."""

    def do_POST(self) -> None:
        SEEN.append(dict(self.headers))
        body = b'{"detail": "no"}'
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The server's API URL and the certificate it presents."""
    cert, key = _certificate(tmp_path_factory.mktemp("tls"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/api", cert
    finally:
        server.shutdown()
        server.server_close()


def test_the_settings_ca_bundle_verifies_the_server(https: tuple[str, Path]) -> None:
    url, cert = https
    api = RestApi(PrefectServer(url, {"Authorization": "Bearer pnu_k", "X-Team": "ml"},
                                verify=str(cert)))
    with pytest.raises(Refused, match=r"POST /flows/: HTTP 403"):
        api.call("POST", "/flows/", {"name": "ingest"})
    assert SEEN[-1]["Authorization"] == "Bearer pnu_k" and SEEN[-1]["X-Team"] == "ml"


def test_no_verification_when_the_settings_say_so(https: tuple[str, Path]) -> None:
    with pytest.raises(Refused, match=r"HTTP 403"):
        RestApi(PrefectServer(https[0], verify=False)).call("POST", "/flows/", {})


def test_a_certificate_no_ca_vouches_for_is_refused(https: tuple[str, Path]) -> None:
    # certifi's CAs, as Prefect's client by default: the run goes to Prefect's engine,
    # which reports the certificate its own way
    before = len(SEEN)
    with pytest.raises(Refused, match=r"TLS: .*CERTIFICATE_VERIFY_FAILED"):
        RestApi(PrefectServer(https[0])).call("POST", "/flows/", {})
    assert len(SEEN) == before  # nothing was sent
