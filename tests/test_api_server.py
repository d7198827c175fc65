"""The service as deployed: ``sealctl serve`` (uvicorn) in a subprocess, spoken to over TCP.

One server for the session (:func:`api_fixtures.live_server`), first-started on an empty
data directory with ``SEALSVC_BASE_URL`` = its own URL, so the OCSP and CRL addresses
written into certificates point at it.  The PKI endpoints are exercised with tools nobody
here wrote — ``openssl ocsp``, ``openssl ts``, ``openssl crl`` / ``verify``, ``curl`` —
and sealed PDFs with poppler's ``pdfsig``.  Revocation happens in another process
(``sealctl seal revoke`` on the same data directory) and must show in the running
server's OCSP answers and CRL at once.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from helpers.pdf_fixtures import ANCHOR, chinese_pdf
from pyhanko.pdf_utils.reader import PdfFileReader

if TYPE_CHECKING:
    from helpers.server import ServerProcess

pytest_plugins = ("helpers.api_fixtures",)  # live_server

pytestmark = pytest.mark.slow


def run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """A tool's exit status and combined output (stderr too: openssl reports there)."""
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


def sign(server: ServerProcess, code: str, **params: str) -> httpx.Response:
    with server.client() as client:
        return client.post(
            f"/v1/seals/{code}/sign",
            content=chinese_pdf(1),
            params=params,
            headers={"Content-Type": "application/pdf"},
        )


def pdfsig(pdf: bytes, directory: Path) -> str:
    path = directory / "sealed.pdf"
    path.write_bytes(pdf)
    result = run("pdfsig", "-no-ocsp", path)
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def pems(live_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The RSA root and issuing CA certificates downloaded from the server, as PEM files."""
    directory = tmp_path_factory.mktemp("pems")
    with httpx.Client(base_url=live_server.url) as client:
        for name in ("root", "issuing"):
            response = client.get(f"/pki/rsa/{name}.crt")
            assert response.headers["content-type"] == "application/pkix-cert"
            (directory / f"{name}.der").write_bytes(response.content)
            converted = run(
                "openssl", "x509", "-inform", "DER", "-in", directory / f"{name}.der",
                "-out", directory / f"{name}.pem",
            )  # fmt: skip
            assert converted.returncode == 0, converted.stderr
    return directory


def seal_pem(server: ServerProcess, code: str, directory: Path) -> Path:
    with httpx.Client(base_url=server.url) as client:
        chain = client.get(f"/v1/seals/{code}").json()["chain_pem"]
    path = directory / f"{code}.pem"
    path.write_text(chain[0])
    return path


def audit_entries(server: ServerProcess, code: str) -> list[dict]:
    shown = server.sealctl("audit", "show", "--seal", code, "--action", "seal.use", "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_first_start_printed_token_and_demo_seals(live_server: ServerProcess) -> None:
    assert len(live_server.demo_seals) == 6
    with httpx.Client(base_url=live_server.url) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}
        listed = {s["code"] for s in client.get("/v1/seals").json()}
        assert listed == {s.code for s in live_server.demo_seals}
        denied = client.post(f"/v1/seals/{live_server.demo_seals[0].code}/sign")
        assert denied.status_code == 401
        assert denied.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_sign_at_b_t_over_http(live_server: ServerProcess, algorithm: str, tmp_path: Path) -> None:
    code = live_server.demo_seal("ZZ-FTZ", algorithm).code
    response = sign(live_server, code, level="B-T", anchor=ANCHOR)
    assert response.status_code == 200, response.text
    sealed = response.content
    assert sealed.startswith(chinese_pdf(1))
    (signature,) = PdfFileReader(io.BytesIO(sealed)).embedded_signatures
    unsigned = signature.signer_info["unsigned_attrs"]
    assert [a["type"].native for a in unsigned] == ["signature_time_stamp_token"]  # B-T
    if algorithm == "rsa":
        assert pdfsig(sealed, tmp_path).count("Signature is Valid.") == 1
    else:
        assert signature.signer_info["signature_algorithm"]["algorithm"].native == "sm2_sm3"
    (entry,) = [
        e
        for e in audit_entries(live_server, code)
        if e["seq"] == int(response.headers["X-Audit-Seq"])
    ]
    assert entry["document_hash"] == hashlib.sha256(sealed).hexdigest()
    assert entry["details"]["client"] == "127.0.0.1"
    assert entry["details"]["api_key"] == live_server.admin_token.split("_")[1]
    with httpx.Client(base_url=live_server.url) as client:
        metrics = client.get("/metrics").text
    assert 'sealsvc_seals_applied_total{level="B-T"}' in metrics


def test_key_revoked_by_another_process_is_refused_at_once(live_server: ServerProcess) -> None:
    """No authentication result outlives its key: the next request after a revocation fails."""
    created = live_server.sealctl(
        "apikey", "create", "--name", "revoked soon", "--scopes", "sign", "--dept", "ZZ-FTZ",
        "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)["token"]
    code = live_server.demo_seal("ZZ-FTZ", "rsa").code

    def attempt() -> httpx.Response:  # authorised, the body is then refused as not a PDF
        return httpx.post(
            f"{live_server.url}/v1/seals/{code}/sign",
            content=b"not a PDF",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"},
        )

    assert attempt().status_code == 400
    revoked = live_server.sealctl("apikey", "revoke", token.split("_")[1])
    assert revoked.returncode == 0, revoked.stderr
    refused = attempt()
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


def test_concurrent_seals_each_answered_and_audited(live_server: ServerProcess) -> None:
    """Eight clients at once on one worker: its CPU queue seals them one after another."""
    code = live_server.demo_seal("ZZ-FTZ", "rsa").code
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: sign(live_server, code, level="B-B"), range(8)))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    hashes = {int(r.headers["X-Audit-Seq"]): r.headers["X-Document-SHA256"] for r in responses}
    assert len(hashes) == 8
    logged = {e["seq"]: e["document_hash"] for e in audit_entries(live_server, code)}
    assert {seq: logged[seq] for seq in hashes} == hashes
    for response in responses:
        assert hashlib.sha256(response.content).hexdigest() == response.headers["X-Document-SHA256"]


def openssl_ocsp(seal: Path, pems: Path, url: str) -> str:
    result = run(
        "openssl", "ocsp", "-issuer", pems / "issuing.pem", "-cert", seal,
        "-url", url, "-CAfile", pems / "root.pem",
    )  # fmt: skip
    return result.stdout + result.stderr


def test_ocsp_good_then_revoked_after_sealctl_revoke(
    live_server: ServerProcess, pems: Path, tmp_path: Path
) -> None:
    code = live_server.demo_seal("ZZ-D14", "rsa").code  # used by no other test here
    seal = seal_pem(live_server, code, tmp_path)
    url = run("openssl", "x509", "-in", seal, "-noout", "-ocsp_uri").stdout.strip()
    assert url == f"{live_server.url}/pki/rsa/ocsp"  # from the certificate, = this server
    before = openssl_ocsp(seal, pems, url)
    assert "Response verify OK" in before and f"{seal}: good" in before, before

    revoked = live_server.sealctl("seal", "revoke", code, "--reason", "key_compromise")
    assert revoked.returncode == 0, revoked.stderr
    after = openssl_ocsp(seal, pems, url)
    assert "Response verify OK" in after and f"{seal}: revoked" in after, after
    assert "Reason: keyCompromise" in after

    # the CRL from the certificate's distribution point lists it as well
    crl_url = _crl_distribution_point(seal)
    assert crl_url.startswith(f"{live_server.url}/pki/rsa/")
    crl_der = tmp_path / "issuing.crl"
    crl_der.write_bytes(httpx.get(crl_url).content)
    chain = tmp_path / "chain.pem"
    chain.write_text((pems / "issuing.pem").read_text() + (pems / "root.pem").read_text())
    parsed = run("openssl", "crl", "-inform", "DER", "-in", crl_der, "-CAfile", chain, "-text")
    assert parsed.returncode == 0 and "verify OK" in parsed.stdout + parsed.stderr, parsed
    serial = run("openssl", "x509", "-in", seal, "-noout", "-serial").stdout.split("=")[1]
    assert f"Serial Number: {serial.strip()}" in parsed.stdout
    crl_pem = tmp_path / "issuing-crl.pem"
    assert run("openssl", "crl", "-inform", "DER", "-in", crl_der, "-out", crl_pem).returncode == 0
    checked = run(
        "openssl", "verify", "-crl_check", "-CRLfile", crl_pem, "-CAfile", pems / "root.pem",
        "-untrusted", pems / "issuing.pem", seal,
    )  # fmt: skip
    assert checked.returncode != 0 and "certificate revoked" in checked.stdout + checked.stderr

    refused = sign(live_server, code)
    assert refused.status_code == 409 and "revoked" in refused.json()["detail"]


def _crl_distribution_point(certificate: Path) -> str:
    text = run("openssl", "x509", "-in", certificate, "-noout", "-ext", "crlDistributionPoints")
    uris = [
        line.strip()[4:] for line in text.stdout.splitlines() if line.strip().startswith("URI:")
    ]
    assert len(uris) == 1, text.stdout
    return uris[0]


def test_tsa_answers_openssl_ts_query_sent_by_curl(
    live_server: ServerProcess, pems: Path, tmp_path: Path
) -> None:
    (tmp_path / "document.txt").write_text("郑州市 时间戳 测试\n")
    query = run(
        "openssl", "ts", "-query", "-data", "document.txt", "-sha256", "-cert", "-out", "q.tsq",
        cwd=tmp_path,
    )  # fmt: skip
    assert query.returncode == 0, query.stderr
    posted = run(
        "curl", "--silent", "--fail", "--data-binary", "@q.tsq",
        "-H", "Content-Type: application/timestamp-query", "-o", "r.tsr",
        f"{live_server.url}/pki/rsa/tsa",
        cwd=tmp_path,
    )  # fmt: skip
    assert posted.returncode == 0, posted.stderr
    verified = run(
        "openssl", "ts", "-verify", "-in", "r.tsr", "-queryfile", "q.tsq",
        "-CAfile", pems / "root.pem", "-untrusted", pems / "issuing.pem",
        cwd=tmp_path,
    )  # fmt: skip
    assert "Verification: OK" in verified.stdout, verified.stdout + verified.stderr
