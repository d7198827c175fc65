"""``POST /v1/verify`` and the citizen page ``/verify`` on the bootstrapped app (TestClient).

Licences are issued through the API with the demo RSA and SM2 seals, then verified as
uploaded, tampered (an unsigned update that replaces the page content), annulled and
re-sealed by a stranger.  A PDF sealed with an openssl-made certificate whose names are
HTML checks that the page escapes what comes out of certificates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from helpers.pdf_fixtures import chinese_pdf
from helpers.verify_corpus import append_page_content_update
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from api.app import create_app
from api.problems import PROBLEM_JSON
from sealsvc.licences import get_licence_pdf, reissue_licence
from sealsvc.pades import Level
from sealsvc.verification import JSON_SCHEMA

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
MARKET = "ZZ-D26"  # 郑州市市场监督管理局
LIMIT = 512 * 1024
"""Upload limit of this module's app: a B-T licence is about 160 KB."""
HOSTILE_CN = "<script>alert(1)</script>"
HOSTILE_O = '"><img src=x onerror=alert(2)>'


def _example(name: str) -> dict:
    return json.loads((TEMPLATES / name / "example.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def client(api_world: ApiWorld) -> Iterator[TestClient]:
    """The app on ``api_world``'s data directory with an upload limit above a licence's size."""
    app = create_app(dataclasses.replace(api_world.settings, max_pdf_bytes=LIMIT))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.context.close()


@pytest.fixture(scope="module")
def market_token(api_world: ApiWorld) -> str:
    return api_world.api_key(department=MARKET, scopes={"licence"})


def _issue(world: ApiWorld, client: TestClient, token: str, algorithm: str) -> tuple[dict, bytes]:
    response = client.post(
        "/v1/licences",
        json={
            "template": "business_licence",
            "data": _example("business_licence"),
            "seals": [world.demo_seal(MARKET, algorithm).code],
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    record = response.json()
    pdf = client.get(record["download_url"], headers={"Authorization": f"Bearer {token}"}).content
    return record, pdf


@pytest.fixture(scope="module")
def licences(
    api_world: ApiWorld, client: TestClient, market_token: str
) -> dict[str, tuple[dict, bytes]]:
    return {alg: _issue(api_world, client, market_token, alg) for alg in ("rsa", "sm2")}


def _verify_json(client: TestClient, pdf: bytes, **kwargs) -> dict:
    response = client.post(
        "/v1/verify", content=pdf, headers={"Content-Type": "application/pdf"}, **kwargs
    )
    assert response.status_code == 200, response.text
    return response.json()


VERDICT_KEYS = ("accepted", "licence_status", "conclusion", "licence")
"""What ``POST /v1/verify`` adds around the report: the licence's registry verdict."""


def _report_part(body: dict) -> dict:
    """The body without :data:`VERDICT_KEYS`: exactly the schema ``sealsvc.verification/1``."""
    import jsonschema

    assert all(key in body for key in VERDICT_KEYS)
    report = {k: v for k, v in body.items() if k not in VERDICT_KEYS}
    jsonschema.validate(report, JSON_SCHEMA)
    return report


# --- JSON --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_issued_licence_passes_and_is_recognised(
    client: TestClient, licences: dict, algorithm: str
) -> None:
    record, pdf = licences[algorithm]
    body = _verify_json(client, pdf)  # no API key: the endpoint is public
    report = _report_part(body)
    assert report["schema"] == "sealsvc.verification/1"
    assert report["verdict"] == "TOTAL_PASSED", report["message"]
    assert report["document_sha256"] == hashlib.sha256(pdf).hexdigest()
    (seal,) = [s for s in report["signatures"] if s["kind"] == "signature"]
    assert seal["signer"]["algorithm"] == algorithm.upper()
    assert seal["registry"]["seal_code"] == record["seal_codes"][0]
    assert body["accepted"] is True and body["licence_status"] == "valid"
    assert body["conclusion"] == report["sentence"]
    licence = body["licence"]
    assert licence["number"] == record["number"] and licence["found_by"] == "sha256"
    assert licence["status"] == "valid" and licence["version"] == 1
    assert licence["sentence"] is None and licence["annul_kind"] is None
    assert licence["document_matches"] is True
    assert licence["registered_sha256"] == record["document_sha256"]
    assert licence["title"] == "营业执照" and licence["issuer"] == "郑州市市场监督管理局"


def test_multipart_upload_and_a_verify_key_work_too(
    api_world: ApiWorld, client: TestClient, licences: dict
) -> None:
    _, pdf = licences["rsa"]
    token = api_world.api_key(department=None, scopes={"archive"})  # any key: not checked
    response = client.post(
        "/v1/verify",
        files={"file": ("licence.pdf", pdf, "application/pdf")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200 and response.json()["verdict"] == "TOTAL_PASSED"


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_tampered_licence_fails_and_differs_from_the_registered_file(
    client: TestClient, licences: dict, algorithm: str
) -> None:
    record, pdf = licences[algorithm]
    body = _verify_json(client, append_page_content_update(pdf))
    assert body["verdict"] == "TOTAL_FAILED" and body["sub_indication"] == "HASH_FAILURE"
    licence = body["licence"]  # found through the number in the XMP metadata
    assert licence["number"] == record["number"] and licence["found_by"] == "metadata"
    assert licence["document_matches"] is False and licence["version"] is None


_VERDICT = re.compile(r'<section class="card verdict (\w+)" id="verdict">(.*?)</section>', re.S)


def _verdict_section(html: str) -> re.Match:
    """The headline card of a page (the part a citizen reads first): (tone, content)."""
    found = _VERDICT.search(html)
    assert found is not None, html
    return found


@pytest.mark.parametrize(("kind", "word", "other"), [("cancelled", "注销", "吊销"),
                                                     ("revoked", "吊销", "注销")])  # fmt: skip
def test_annulled_licence_is_not_accepted_anywhere(
    api_world: ApiWorld, client: TestClient, market_token: str, kind: str, word: str, other: str
) -> None:
    record, pdf = _issue(api_world, client, market_token, "rsa")
    annulled = client.post(
        f"/v1/licences/{record['number']}/annul",
        json={"kind": kind, "reason": "申请人申请注销"},
        headers={"Authorization": f"Bearer {market_token}"},
    )
    assert annulled.status_code == 200, annulled.text
    assert annulled.json()["annul_kind"] == kind
    changed = datetime.fromisoformat(annulled.json()["status_changed_at"])
    day = changed.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d")
    expected = f"印章有效，但该证照已于 {day} 被{word}，不再有效。"

    body = _verify_json(client, pdf)
    assert body["verdict"] == "TOTAL_PASSED"  # the seals are still the seals …
    assert body["accepted"] is False and body["licence_status"] == "annulled"  # … the licence not
    assert body["conclusion"] == expected
    assert body["licence"]["annul_kind"] == kind and body["licence"]["status_label"] == f"已{word}"
    assert body["licence"]["status_reason"] == "申请人申请注销"
    _report_part(body)

    page = client.post("/verify", files={"file": ("l.pdf", pdf, "application/pdf")})
    tone, headline = _verdict_section(page.text).groups()
    assert page.status_code == 200 and tone == "bad"
    assert f"证照已{word}" in headline and expected in headline and "验证通过" not in headline
    assert f"已{other}" not in page.text and "申请人申请注销" in page.text

    qr = client.get(f"/verify/{record['number']}")
    tone, headline = _verdict_section(qr.text).groups()
    assert qr.status_code == 200 and tone == "bad"
    assert f"证照已{word}" in headline and f"已于 {day} 被{word}，不再有效" in headline


def test_superseded_licence_is_not_accepted(
    api_world: ApiWorld, client: TestClient, market_token: str
) -> None:
    record, old_pdf = _issue(api_world, client, market_token, "sm2")
    new = reissue_licence(api_world.context, record["number"], {"legal_representative": "刘振华"},
                          actor="test", reason="法定代表人变更", level=Level.B_T)  # fmt: skip
    body = _verify_json(client, old_pdf)
    assert body["verdict"] == "TOTAL_PASSED" and body["accepted"] is False
    assert body["licence_status"] == "superseded" and body["licence"]["version"] == 1
    assert "此文件为第1版，已由第2版取代，不再有效。" in body["conclusion"]
    assert body["conclusion"].startswith("印章有效，但该证照已于 ")
    page = client.post("/verify", files={"file": ("l.pdf", old_pdf, "application/pdf")})
    tone, headline = _verdict_section(page.text).groups()
    assert tone == "warn" and "证照已变更" in headline and "验证通过" not in headline
    # The new version is the valid one.
    new_pdf = get_licence_pdf(api_world.context, record["number"], new.version)
    current = _verify_json(client, new_pdf)
    assert current["accepted"] is True and current["licence_status"] == "valid"
    tone, headline = _verdict_section(_upload_page(client, new_pdf).text).groups()
    assert tone == "ok" and "验证通过" in headline


def test_unsigned_and_foreign_documents_have_no_licence(client: TestClient) -> None:
    body = _verify_json(client, chinese_pdf(1))
    assert body["verdict"] == "NOT_SIGNED" and body["licence"] is None


@pytest.mark.parametrize("garbage", [b"", b"hello", b"%PDF-1.7\n%%EOF", b"\x00" * 1000])
def test_not_a_pdf_is_a_format_failure_report(client: TestClient, garbage: bytes) -> None:
    body = _verify_json(client, garbage)
    assert body["verdict"] == "TOTAL_FAILED" and body["sub_indication"] == "FORMAT_FAILURE"
    assert body["licence"] is None
    _report_part(body)


def test_envelope_errors_are_problems(client: TestClient) -> None:
    limit = LIMIT
    cases = [
        (413, {"content": b"%PDF-" + b"0" * limit, "headers": {"Content-Type": "application/pdf"}}),
        (413, {"files": {"file": ("big.pdf", b"%PDF-" + b"0" * limit, "application/pdf")}}),
        (415, {"content": b"%PDF-1.7", "headers": {"Content-Type": "text/plain"}}),
        (400, {"files": {"other": ("x.pdf", b"%PDF-1.7", "application/pdf")}}),
    ]
    for status, kwargs in cases:
        response = client.post("/v1/verify", **kwargs)
        assert response.status_code == status, (status, response.text)
        assert response.headers["content-type"] == PROBLEM_JSON


def test_verifications_are_counted_by_verdict(client: TestClient) -> None:
    def counted() -> float:
        text = client.get("/metrics").text
        found = re.search(r'sealsvc_verifications_total\{indication="NOT_SIGNED"\} (\S+)', text)
        return float(found.group(1)) if found else 0.0

    before = counted()
    _verify_json(client, chinese_pdf(1))
    assert counted() == before + 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=2048),
        st.binary(max_size=512).map(lambda b: b"%PDF-1.7\n" + b),
    ),
    content_type=st.sampled_from(["application/pdf", "multipart/form-data", "text/html"]),
)
def test_garbage_never_5xx(client: TestClient, body: bytes, content_type: str) -> None:
    for path in ("/v1/verify", "/verify"):
        response = client.post(path, content=body, headers={"Content-Type": content_type})
        assert response.status_code < 500, (path, response.text)


# --- HTML --------------------------------------------------------------------------------------


def _upload_page(client: TestClient, pdf: bytes, **data: str):
    return client.post("/verify", files={"file": ("doc.pdf", pdf, "application/pdf")}, data=data)


def test_form_page(client: TestClient) -> None:
    page = client.get("/verify")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'name="viewport"' in page.text and 'enctype="multipart/form-data"' in page.text
    assert "<script" not in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none'


def test_result_page_passes_with_seal_image_and_hash(client: TestClient, licences: dict) -> None:
    record, pdf = licences["sm2"]
    page = _upload_page(client, pdf)
    assert page.status_code == 200
    text = page.text
    assert "验证通过" in text and "与登记的文件一致" in text and "有效" in text
    assert hashlib.sha256(pdf).hexdigest() in text
    image = f"/v1/seals/{record['seal_codes'][0]}/image.png"
    assert f'src="{image}"' in text
    assert client.get(image).headers["content-type"] == "image/png"
    assert "（可信时间戳）" in text  # proven time, in Beijing time


def test_result_page_fails_for_tampered_copy(client: TestClient, licences: dict) -> None:
    _, pdf = licences["rsa"]
    page = _upload_page(client, append_page_content_update(pdf))
    assert page.status_code == 200
    assert "验证失败" in page.text and "与登记的文件不一致" in page.text
    assert "盖章后已被篡改" in page.text


def test_compare_with_a_named_licence(client: TestClient, licences: dict) -> None:
    rsa_record, _ = licences["rsa"]
    _, sm2_pdf = licences["sm2"]
    page = _upload_page(client, sm2_pdf, licence_no=rsa_record["number"])
    assert page.status_code == 200
    assert rsa_record["number"] in page.text and "与登记的文件不一致" in page.text
    assert _upload_page(client, sm2_pdf, licence_no="../../etc").status_code == 400
    assert _upload_page(client, sm2_pdf, licence_no="BL2000010100000000").status_code == 404


def test_page_errors_are_pages(client: TestClient) -> None:
    limit = LIMIT
    too_big = _upload_page(client, b"%PDF-" + b"0" * limit)
    assert too_big.status_code == 413 and "文件过大" in too_big.text
    assert too_big.headers["content-type"].startswith("text/html")
    no_file = client.post("/verify", data={"x": "y"})
    assert no_file.status_code in (400, 415) and "text/html" in no_file.headers["content-type"]
    broken = _upload_page(client, b"not a pdf at all")
    assert broken.status_code == 200 and "验证失败" in broken.text
    assert "不是有效的PDF文件" in broken.text


def test_qr_page(client: TestClient, licences: dict) -> None:
    record, _ = licences["rsa"]
    url = record["verify_url"]
    path = url[url.index("/verify/") :]
    page = client.get(path)
    assert page.status_code == 200
    text = page.text
    assert "证照有效" in text and "与登记信息一致" in text and record["number"] in text
    assert "郑州市市场监督管理局" in text and "营业执照" in text
    data = _example("business_licence")
    for private in ("legal_representative", "address", "uscc"):
        assert data[private] not in text  # no personal data on a public page
    assert f'name="licence_no" value="{record["number"]}"' in text
    # What is printed on the paper, to match it by: holder, masked code, dates.
    shown = dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>([^<]+)</dd>", text))
    assert shown["名称"] == data["name"] == "郑州中原智链信息科技有限公司"
    assert shown["统一社会信用代码"] == "914101********K2XR" != data["uscc"]
    assert shown["证照编号"] == record["number"]
    assert shown["日期"] == "2024年03月15日"  # the issue date as printed (issue_date)
    issued = datetime.fromisoformat(record["issued_at"]).astimezone(timezone(timedelta(hours=8)))
    assert shown["电子签发日期"] == f"{issued:%Y年%m月%d日}"
    # Without the QR code's hash (a guessed number) the page names no one.
    bare = client.get(path.split("?")[0])
    assert bare.status_code == 200 and data["name"] not in bare.text
    assert "统一社会信用代码" not in bare.text and record["number"] in bare.text
    forged = client.get(path.split("?")[0] + "?h=0000000000000000")
    assert forged.status_code == 200 and "与登记信息不符" in forged.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/verify/BL2000010100000000", 404),
        ("/verify/..%2F..%2Fetc%2Fpasswd", 400),
        ("/verify/%2e%2e", 400),
        ("/verify/abc", 400),
        ("/verify/" + "A" * 300, 400),
    ],
)
def test_qr_page_errors(client: TestClient, path: str, status: int) -> None:
    page = client.get(path)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert ("未找到该证照" if status == 404 else "格式不正确") in page.text


def _openssl(*argv: str | Path) -> None:
    result = subprocess.run(["openssl", *map(str, argv)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def hostile_pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A PDF sealed with a self-made certificate whose names are HTML."""
    d = tmp_path_factory.mktemp("hostile")
    (d / "req.cnf").write_text(
        f"[req]\ndistinguished_name=dn\nprompt=no\nutf8=yes\n[dn]\nO={HOSTILE_O}\nCN={HOSTILE_CN}\n"
    )
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "k.pem",
             "-out", d / "c.pem", "-days", "5", "-config", d / "req.cnf",
             "-addext", "keyUsage=critical,digitalSignature,nonRepudiation")  # fmt: skip
    signer = signers.SimpleSigner.load(str(d / "k.pem"), str(d / "c.pem"))
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(chinese_pdf(1))),
        signers.PdfSignatureMetadata(field_name="Sig1"),
        signer=signer,
        output=out,
    )
    return out.getvalue()


def test_hostile_certificate_names_are_escaped(client: TestClient, hostile_pdf: bytes) -> None:
    body = _verify_json(client, hostile_pdf)
    assert body["verdict"] == "INDETERMINATE"  # not our CA
    assert body["signatures"][0]["signer"]["common_name"] == HOSTILE_CN
    page = _upload_page(client, hostile_pdf)
    assert page.status_code == 200 and "无法确认" in page.text
    assert HOSTILE_CN not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.text
    assert "<img" not in page.text  # not one of our seals: no image at all


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_b_t_seal_passes_with_the_services_own_revocation_answers(
    api_world: ApiWorld, client: TestClient, algorithm: str
) -> None:
    """A B-T seal carries no revocation data; the service answers for its own certificates
    in-process (OCSP), so citizens get a verdict without any network fetch."""
    seal = api_world.demo_seal("ZZ-D26" if algorithm == "rsa" else "ZZ-FTZ", algorithm)
    signed = client.post(
        f"/v1/seals/{seal.code}/sign?level=B-T&invisible=true",
        content=chinese_pdf(1),
        headers={
            "Authorization": f"Bearer {api_world.admin_token}",
            "Content-Type": "application/pdf",
        },
    )
    assert signed.status_code == 200, signed.text
    body = _verify_json(client, signed.content)
    assert body["verdict"] == "TOTAL_PASSED", json.dumps(body, ensure_ascii=False)[:800]
    assert body["signatures"][0]["revocation"]["status"] == "good"


def test_urls_of_other_hosts_are_never_fetched(api_world: ApiWorld) -> None:
    """A hostile PDF may name any CRL/OCSP URL; the service's fetcher refuses foreign ones."""
    fetch = api_world.app.state.trust.local_fetcher()
    with pytest.raises(ConnectionError, match="not this service"):
        fetch("http://169.254.169.254/latest/meta-data", None)
    with pytest.raises(ConnectionError):
        fetch(f"{api_world.settings.base_url}/pki/rsa/../../etc/passwd", None)
    crl = fetch(f"{api_world.settings.base_url}/pki/rsa/issuing.crl", None)
    assert crl[:1] == b"\x30"


# --- sentences ---------------------------------------------------------------------------------


def _cards(html: str) -> list[str]:
    """The seal and time-stamp cards of a result page, in order."""
    return re.findall(r'<section class="card seal-card">(.*?)</section>', html, re.S)


def test_a_seal_proven_only_by_a_later_time_stamp_reads_no_later_than(
    api_world: ApiWorld, client: TestClient
) -> None:
    """A B-B seal has no time-stamp of its own; an archive time-stamp added later proves
    it existed by then, not that it was applied then: 不晚于, never 于."""
    auth = {"Authorization": f"Bearer {api_world.admin_token}"}
    sealed = client.post(
        f"/v1/seals/{api_world.demo_seal(MARKET, 'rsa').code}/sign",
        content=chinese_pdf(1),
        params={"level": "B-B", "invisible": "true"},
        headers={**auth, "Content-Type": "application/pdf"},
    )
    assert sealed.status_code == 200, sealed.text
    extended = client.post(
        "/v1/archive/extend",
        content=sealed.content,
        headers={**auth, "Content-Type": "application/pdf"},
    )
    assert extended.status_code == 200, extended.text
    body = _verify_json(client, extended.content)
    assert body["verdict"] == "TOTAL_PASSED", body["message"]
    seal, stamp = body["signatures"]
    assert seal["timestamp"] is None and stamp["kind"] == "document_timestamp"
    assert seal["best_signature_time"] == stamp["best_signature_time"]
    proven = datetime.fromisoformat(seal["best_signature_time"])
    at = proven.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert f"不晚于 {at} 加盖电子印章" in seal["sentence"]
    assert f"于 {at}" not in seal["sentence"].replace("不晚于", "")
    seal_card, stamp_card = _cards(_upload_page(client, extended.content).text)
    assert f"不晚于 {at}（由其后加盖的可信时间戳证明）" in seal_card
    assert f"不晚于 {at} 加盖电子印章" in seal_card
    assert "不晚于" not in stamp_card  # the time-stamp's own time is exact
    # A seal with its own time-stamp keeps "于".
    _, pdf = _issue(api_world, client, api_world.admin_token, "rsa")
    own = _verify_json(client, pdf)["signatures"][0]
    assert own["timestamp"] is not None and "不晚于" not in own["sentence"]


def test_a_time_stamp_on_a_tampered_file_is_not_called_a_seal(
    client: TestClient, licences: dict
) -> None:
    _, pdf = licences["sm2"]  # B-LTA: a seal, then the document time-stamp
    html = _upload_page(client, append_page_content_update(pdf)).text
    seal_card, stamp_card = _cards(html)
    assert "盖章后已被篡改" in seal_card and "印章无效" in seal_card
    assert "时间戳机构" in stamp_card and "加盖时间戳后已被篡改" in stamp_card
    body = _verify_json(client, append_page_content_update(pdf))
    stamp = body["signatures"][1]
    words = stamp_card.replace(stamp["signer"]["common_name"], "")  # 郑州市电子印章时间戳服务
    assert "印章" not in words and "盖章" not in words and "签章方" not in words
    assert "（时间戳无效，该时间未经证明）" in stamp_card
    assert stamp["kind"] == "document_timestamp" and stamp["sub_indication"] == "HASH_FAILURE"
    assert stamp["sentence"].startswith("可信时间戳“") and "该时间戳无效" in stamp["sentence"]
