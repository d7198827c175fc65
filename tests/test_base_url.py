"""One public base URL (issue 14 §4), on real ``sealctl serve`` processes.

* ``serve --port N`` on an empty data directory, without ``SEALSVC_BASE_URL``: the CRL,
  OCSP and CA-issuers URLs in the certificates, a licence's QR code (decoded by ``zbarimg``),
  ``verify_url``, ``download_url`` and ``image_url`` all use port N — and answer there:
  ``openssl ocsp`` asks the URL written in the seal's certificate and gets "good".
* A later start on port M keeps the recorded URL, warns (naming both URLs and the fix),
  and a ``sealctl`` command on the data directory issues certificates for port N too.
* ``SEALSVC_BASE_URL`` overrides the address served; a malformed one stops the start.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from helpers.local import free_port
from helpers.server import SEALCTL, ServerProcess, running_server, server_environ

from sealsvc.config import DEFAULT_BASE_URL, Settings
from sealsvc.public_url import listening_url, mismatch_warning

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
_TOKEN = re.compile(r"^(sk_[0-9a-f]{16}_\S+)$", re.MULTILINE)
_RSA_DEMO_SEAL = re.compile(r"demo seal (\d{14})\s+郑州市市场监督管理局 公章 \(rsa")


@contextmanager
def serve(data_dir: Path, port: int, base_url: str | None = None) -> Iterator[ServerProcess]:
    """``sealctl serve --port port``; ``SEALSVC_BASE_URL`` only if ``base_url`` is given."""
    with running_server(data_dir, port=port, env={"SEALSVC_BASE_URL": base_url}) as server:
        yield server


def _urls(chain_pem: list[str]) -> list[str]:
    """CRL distribution point, OCSP and CA-issuers URLs of every certificate of a chain
    (a self-signed root has none)."""
    urls = []
    for certificate in x509.load_pem_x509_certificates("".join(chain_pem).encode()):
        for extension in certificate.extensions:
            if extension.oid == ExtensionOID.CRL_DISTRIBUTION_POINTS:
                urls += [name.value for point in extension.value for name in point.full_name]
            elif extension.oid == ExtensionOID.AUTHORITY_INFORMATION_ACCESS:
                urls += [access.access_location.value for access in extension.value]
    return urls


def _ocsp_url(chain_pem: list[str]) -> str:
    leaf = x509.load_pem_x509_certificate(chain_pem[0].encode())
    access = leaf.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    return next(
        a.access_location.value
        for a in access.value
        if a.access_method == AuthorityInformationAccessOID.OCSP
    )


def _seal(server: str, code: str) -> dict:
    response = httpx.get(f"{server}/v1/seals/{code}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _issue_licence(server: str, token: str, code: str) -> dict:
    example = json.loads((TEMPLATES / "business_licence" / "example.json").read_text())
    response = httpx.post(
        f"{server}/v1/licences",
        json={"template": "business_licence", "data": example, "seals": [code], "level": "B-B"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _qr_text(pdf: bytes, directory: Path) -> str:
    (directory / "licence.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "200", "-singlefile", "licence.pdf", "page"],
        cwd=directory,
        check=True,
    )
    return subprocess.run(
        ["zbarimg", "-q", "--raw", "page.png"], cwd=directory, capture_output=True, text=True
    ).stdout.strip()


def test_serve_port_is_the_base_url_of_everything_and_later_starts_keep_it(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    with serve(data_dir, port) as first:
        base = first.url
        assert f"Public base URL: {base}" in first.output
        assert "warning" not in first.output
        token = _TOKEN.search(first.output).group(1)
        code = _RSA_DEMO_SEAL.search(first.output).group(1)
        seal = _seal(base, code)
        urls = _urls(seal["chain_pem"])
        names = {"issuing.crl", "issuing.crt", "ocsp", "root.crl", "root.crt"}
        assert sorted(urls) == sorted(f"{base}/pki/rsa/{name}" for name in names)
        assert seal["image_url"] == f"{base}/v1/seals/{code}/image.png"
        # the URLs written into the certificate answer: OCSP by openssl, the CRL by HTTP
        (tmp_path / "seal.pem").write_text(seal["chain_pem"][0])
        (tmp_path / "issuing.pem").write_text(seal["chain_pem"][1])
        ocsp = subprocess.run(
            [
                "openssl",
                "ocsp",
                "-issuer",
                "issuing.pem",
                "-cert",
                "seal.pem",
                "-url",
                _ocsp_url(seal["chain_pem"]),
                "-noverify",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "seal.pem: good" in ocsp.stdout, ocsp.stdout + ocsp.stderr
        crl_url = next(u for u in urls if u.endswith("/issuing.crl"))
        assert httpx.get(crl_url, timeout=30).status_code == 200

        record = _issue_licence(base, token, code)
        number = record["number"]
        assert record["verify_url"].startswith(f"{base}/verify/")
        assert record["download_url"].startswith(f"{base}/v1/licences/")
        download = httpx.get(
            record["download_url"], headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        assert download.status_code == 200 and download.content.startswith(b"%PDF-")
        assert _qr_text(download.content, tmp_path) == record["verify_url"]
        assert httpx.get(record["verify_url"], timeout=30).status_code == 200
    assert (data_dir / "base-url").read_text() == f"{base}\n"

    other = free_port()
    with serve(data_dir, other) as later:
        said = " ".join(later.output.split())
        assert f"warning: the base URL is {base}" in said
        assert f"listens on {later.url}" in said and "Certificates already carry" in said
        assert f"--port {port}" in said and "SEALSVC_BASE_URL to the URL" in said
        assert _seal(later.url, code)["image_url"].startswith(f"{base}/")
        # another sealctl process on the data directory (no SEALSVC_BASE_URL) agrees
        environ = server_environ(later.url)
        del environ["SEALSVC_BASE_URL"]
        issued = subprocess.run(
            [
                str(SEALCTL),
                "--data-dir",
                str(data_dir),
                "seal",
                "issue",
                "--dept",
                "ZZ-D14",
                "--kind",
                "公章",
                "--alg",
                "rsa",
                "--json",
            ],
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert issued.returncode == 0, issued.stderr
        new_code = json.loads(issued.stdout)["code"]
        assert all(u.startswith(f"{base}/") for u in _urls(_seal(later.url, new_code)["chain_pem"]))
        shown = httpx.get(
            f"{later.url}/v1/licences/{number}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        assert shown["verify_url"] == record["verify_url"]
        assert shown["download_url"].startswith(f"{base}/v1/licences/")


def test_base_url_from_the_environment_overrides_the_address_served(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    public = "https://seal.zhengzhou.example/"
    with serve(data_dir, free_port(), base_url=public) as started:
        assert "Public base URL: https://seal.zhengzhou.example (from SEALSVC_BASE_URL)" in (
            started.output
        )
        assert "warning" not in started.output
        code = _RSA_DEMO_SEAL.search(started.output).group(1)
        token = _TOKEN.search(started.output).group(1)
        seal = _seal(started.url, code)
        urls = _urls(seal["chain_pem"])
        assert urls and all(u.startswith("https://seal.zhengzhou.example/pki/rsa/") for u in urls)
        assert seal["image_url"].startswith("https://seal.zhengzhou.example/v1/seals/")
        record = _issue_licence(started.url, token, code)
        assert record["verify_url"].startswith("https://seal.zhengzhou.example/verify/")
        assert record["download_url"].startswith("https://seal.zhengzhou.example/v1/licences/")
    assert (data_dir / "base-url").read_text() == "https://seal.zhengzhou.example\n"


def test_a_malformed_base_url_stops_the_start_and_creates_nothing(tmp_path: Path) -> None:
    environ = server_environ("ftp://seal.example")
    result = subprocess.run(
        [str(SEALCTL), "--data-dir", str(tmp_path / "data"), "serve", "--port", "1"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "SEALSVC_BASE_URL" in result.stderr and "ftp://seal.example" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("host", "url", "noted"),
    [
        ("127.0.0.1", "http://127.0.0.1:18080", False),
        ("0.0.0.0", "http://127.0.0.1:18080", True),
        ("::", "http://[::1]:18080", True),
        ("::1", "http://[::1]:18080", False),
        ("seal.local", "http://seal.local:18080", False),
    ],
)
def test_listening_url_names_a_host_clients_can_use(host: str, url: str, noted: bool) -> None:
    shown, note = listening_url(host, 18080)
    assert shown == url
    assert (note is not None and "SEALSVC_BASE_URL" in note) is noted


def test_base_url_recorded_in_the_data_dir_is_used_and_env_still_wins(tmp_path: Path) -> None:
    assert Settings.load(tmp_path, {}).base_url == DEFAULT_BASE_URL
    (tmp_path / "base-url").write_text("http://127.0.0.1:18080/\n")
    recorded = Settings.load(tmp_path, {})
    assert recorded.base_url == "http://127.0.0.1:18080"
    assert mismatch_warning(recorded, "http://127.0.0.1:18080") is None
    elsewhere = mismatch_warning(recorded, "http://127.0.0.1:8000")
    assert "listens on http://127.0.0.1:8000" in elsewhere and "(--port 18080)" in elsewhere
    behind = mismatch_warning(recorded, "http://10.0.0.5:8000")
    assert "(--host/--port)" in behind
    chosen = Settings.load(tmp_path, {"SEALSVC_BASE_URL": "https://seal.example"})
    assert chosen.base_url == "https://seal.example"
    # on purpose, behind a proxy: no warning about the port, but one about the certificates
    warning = mismatch_warning(chosen, "http://127.0.0.1:8000")
    assert warning is not None and "carry http://127.0.0.1:18080" in warning
