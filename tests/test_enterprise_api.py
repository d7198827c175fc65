"""Enterprise seal sets with the 营业执照 ("1+X", issue #21 §2), over the real API.

The bootstrapped app of ``api_fixtures`` (real CAs, demo seals, SQLite): the market
regulator issues 营业执照 with ``enterprise_seals`` in one call or a set for a licence it
issued before; the enterprise's own key seals PDF and OFD with its own seals only; annulling
the licence revokes the set (CRL read back by ``openssl crl``) while a contract
time-stamped before stays TOTAL_PASSED. Certificates are read by ``openssl x509`` and
their SM2 signatures checked by ``openssl verify`` (distid) and gmssl; images are measured.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from asn1crypto import pem, x509
from fastapi.testclient import TestClient
from helpers.api_calls import assert_problem, bearer
from helpers.enterprise_identities import new_credit_code
from helpers.licence_api import MARKET, template_example
from helpers.ofd_documents import unsigned_ofd
from helpers.pdf_fixtures import chinese_pdf
from helpers.pki_fixtures import gmssl_verify, openssl
from PIL import Image
from sqlalchemy import func, select

from api.app import create_app
from ofd.package import OfdPackage
from ofd.signatures import check_references, read_signature, read_signatures
from pki import ses
from pki.errors import KeyStoreError
from sealsvc import audit, seals
from sealsvc.licences import reissue_licence
from sealsvc.models import Department, Enterprise, Licence, Seal
from sealsvc.verification.ses import SesVerifier

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world

SM2_DISTID = "distid:1234567812345678"
ALL_KINDS = ["公章", "finance", "发票专用章", "contract", "legal_representative"]


_NAMES = iter(f"郑州{a}{b}信息科技有限公司" for a in "东南西北中" for b in "甲乙丙丁戊己庚辛壬癸")


def licence_body(credit_code: str, **overrides) -> dict:
    """A 营业执照 request for a new enterprise (credit code and name are unique)."""
    data = {**template_example("business_licence"), "uscc": credit_code, "name": next(_NAMES)}
    data.pop("authority", None)
    data.update(overrides.pop("data", {}))
    return {"template": "business_licence", "data": data, "level": "B-T", **overrides}


@pytest.fixture(scope="module")
def roomy_client(api_world: ApiWorld) -> Iterator[TestClient]:
    """The app with an upload limit above a sealed OFD's size (``api_world``'s is 64 KiB)."""
    app = create_app(dataclasses.replace(api_world.settings, max_pdf_bytes=1024 * 1024))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.context.close()


@pytest.fixture(scope="module")
def market_token(api_world: ApiWorld) -> str:
    return api_world.api_key(department=MARKET, scopes={"licence"})


def _issue(world: ApiWorld, token: str, body: dict):
    body.setdefault("seals", [world.demo_seal(MARKET).code])
    return world.client.post("/v1/licences", json=body, headers=bearer(token))


@pytest.fixture(scope="module")
def one_call(api_world: ApiWorld, market_token: str) -> dict:
    """A 营业执照 and the full set, in one call."""
    credit_code = new_credit_code()
    response = _issue(
        api_world, market_token, licence_body(credit_code, enterprise_seals=ALL_KINDS)
    )
    assert response.status_code == 201, response.text
    return response.json()


def _seal(body: dict, kind: str) -> dict:
    return next(s for s in body["enterprise"]["seals"] if s["kind"] == kind)


# --- "1+X": one call ------------------------------------------------------------------------


def test_one_call_returns_the_licence_and_the_seal_set(
    api_world: ApiWorld, one_call: dict, tmp_path: Path
) -> None:
    enterprise = one_call["enterprise"]
    credit_code = enterprise["credit_code"]
    assert one_call["status"] == "valid" and one_call["template"] == "business_licence"
    assert enterprise["licence_number"] == one_call["number"]
    assert [s["kind"] for s in enterprise["seals"]] == [
        "公章", "财务专用章", "合同专用章", "发票专用章", "法定代表人名章",
    ]  # ordered by seal code, whose digits 7-8 are the kind  # fmt: skip
    assert sorted(enterprise["issued"]) == sorted(s["code"] for s in enterprise["seals"])
    assert all(s["status"] == "active" for s in enterprise["seals"])
    assert _seal(one_call, "法定代表人名章")["text"] == "王建国"
    assert enterprise["api_key"].startswith("sk_")
    for entry in enterprise["seals"]:
        certificate = x509.Certificate.load(pem.unarmor(entry["certificate_pem"].encode())[2])
        subject = certificate.subject.native
        assert subject["organization_identifier"] == f"NTRCN-{credit_code}"
        assert subject["organization_name"] == enterprise["name"]
        assert subject["serial_number"] == entry["code"]
        curve = certificate.public_key["algorithm"]["parameters"].chosen
        assert curve.dotted == "1.2.156.10197.1.301"  # SM2
        image = api_world.client.get(entry["image_url"].split("127.0.0.1:8000")[-1])
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    # OpenSSL reads the subject and checks the SM2 signature on the certificate
    official = _seal(one_call, "公章")
    detail = api_world.client.get(f"/v1/seals/{official['code']}").json()
    (tmp_path / "seal.pem").write_text(official["certificate_pem"])
    (tmp_path / "issuing.pem").write_text(detail["chain_pem"][1])
    shown = openssl(
        "x509", "-in", "seal.pem", "-noout", "-subject", "-nameopt", "utf8", cwd=tmp_path
    )
    assert f"organizationIdentifier=NTRCN-{credit_code}" in shown.stdout, shown.stdout
    verified = openssl(
        "verify", "-vfyopt", SM2_DISTID, "-partial_chain", "-CAfile", "issuing.pem", "seal.pem",
        cwd=tmp_path,
    )  # fmt: skip
    assert verified.returncode == 0 and "seal.pem: OK" in verified.stdout, verified.stderr
    with api_world.context.database.session(read_only=True) as session:
        holder = session.scalars(select(Department).where(Department.code == credit_code)).one()
        assert holder.kind == "enterprise" and holder.credit_code == credit_code
    (entry,) = [
        e
        for e in _audit(api_world, "enterprise.seals")
        if e["details"]["credit_code"] == credit_code
    ]
    assert entry["details"]["licence_number"] == one_call["number"]


def _audit(world: ApiWorld, action: str) -> list[dict]:
    with world.context.database.session(read_only=True) as session:
        return [audit.entry_to_dict(e) for e in audit.query(session, action=action)]


def _counts(world: ApiWorld) -> dict[str, int]:
    with world.context.database.session(read_only=True) as session:
        counted = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Licence, Seal, Department, Enterprise)
        }
    counted["licence files"] = len(list((world.settings.data_dir / "licences").glob("*")))
    counted["keys"] = len(world.context.keystore.list())
    return counted


@pytest.mark.parametrize(
    ("overrides", "status", "needle"),
    [
        ({"enterprise_seals": ["公章", "印鉴"]}, 400, "unknown enterprise seal '印鉴'"),
        ({"enterprise_seals": ["公章", "official"]}, 400, "asked for twice"),
        ({"enterprise_seals": []}, 400, "enterprise_seals is empty"),
        # a character the seal font cannot draw, on the 法定代表人名章: refused before anything
        ({"enterprise_seals": ALL_KINDS, "data": {"legal_representative": "王𪚥"}}, 400, "𪚥"),
        (
            {"enterprise_seals": ["公章"], "template": "construction_permit"},
            400,
            "come with a 营业执照",
        ),
    ],
)
def test_a_set_that_cannot_be_made_leaves_nothing(
    api_world: ApiWorld, market_token: str, overrides: dict, status: int, needle: str
) -> None:
    before = _counts(api_world)
    response = _issue(api_world, market_token, licence_body(new_credit_code(), **overrides))
    problem = assert_problem(response, status)
    assert needle in problem["detail"], problem
    assert _counts(api_world) == before


def test_a_seal_failing_midway_undoes_the_licence_and_the_whole_set(
    api_world: ApiWorld, market_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third key of the set cannot be generated (a key store fault): the licence, the
    holder, the two seals and keys made before it, the API key — none of it stays."""
    store_class = type(api_world.app.state.context.keystore)
    generate = store_class.generate
    calls = itertools.count(1)

    def failing(self, *args, **kwargs):
        if next(calls) == 3:
            raise KeyStoreError("the key store refused a write (test fault)")
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(store_class, "generate", failing)
    before = _counts(api_world)
    credit_code = new_credit_code()
    response = _issue(
        api_world, market_token, licence_body(credit_code, enterprise_seals=ALL_KINDS)
    )
    assert response.status_code >= 500, response.text
    assert "id" in response.json() or "instance" in response.json()
    assert _counts(api_world) == before
    with api_world.context.database.session(read_only=True) as session:
        assert (
            session.scalars(select(Licence).where(Licence.data.contains(credit_code))).all() == []
        )


# --- the enterprise's key -------------------------------------------------------------------


def test_the_enterprise_key_seals_pdf_with_its_own_seal(
    api_world: ApiWorld, one_call: dict
) -> None:
    token = one_call["enterprise"]["api_key"]
    official = _seal(one_call, "公章")["code"]
    sealed = api_world.client.post(
        f"/v1/seals/{official}/sign",
        content=chinese_pdf(1),
        headers={**bearer(token), "Content-Type": "application/pdf"},
        params={"level": "B-T"},
    )
    assert sealed.status_code == 200, sealed.text
    report = _verify(api_world.client, sealed.content, "contract.pdf")
    assert report["verdict"] == "TOTAL_PASSED", report
    signer = report["signatures"][0]["signer"]
    assert one_call["enterprise"]["name"] in json.dumps(signer, ensure_ascii=False)


def _verify(client: TestClient, document: bytes, name: str) -> dict:
    response = client.post("/v1/verify", files={"file": (name, document)})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_enterprise_key_seals_ofd_and_sm2_checks_out(
    api_world: ApiWorld, one_call: dict, roomy_client: TestClient
) -> None:
    token = one_call["enterprise"]["api_key"]
    invoice = _seal(one_call, "发票专用章")["code"]
    sealed = api_world.client.post(
        f"/v1/seals/{invoice}/sign",
        content=unsigned_ofd().to_bytes(),
        headers={**bearer(token), "Content-Type": "application/ofd"},
        params={"level": "B-T"},
    )
    assert sealed.status_code == 200, sealed.text
    package = OfdPackage.read(sealed.content)
    (entry,) = read_signatures(package).entries
    signature = read_signature(package, entry)
    assert check_references(package, signature).intact
    parsed = ses.parse_signature(package[signature.signed_value_path])
    assert parsed.seal.es_id == invoice
    assert ses.check_signature(parsed, signature.signature_xml).ok
    assert SesVerifier(api_world.context).verify(parsed.der, signature.signature_xml).passed
    # the signer's SM2 signature over TBS_Sign, checked by gmssl (pure Python, not ours)
    certificate = x509.Certificate.load(parsed.signer_certificate)
    assert gmssl_verify(certificate.public_key, parsed.signed_bytes, parsed.signature)
    assert not gmssl_verify(certificate.public_key, parsed.signed_bytes + b"x", parsed.signature)
    # the stamp is the oval at its printed size, 40 x 30 mm
    assert (parsed.seal.picture.width_mm, parsed.seal.picture.height_mm) == (40, 30)
    assert f"{_boundary(package)[2:]}" == "(40.0, 30.0)"
    report = _verify(roomy_client, sealed.content, "invoice.ofd")
    assert report["verdict"] == "TOTAL_PASSED", report


def _boundary(package: OfdPackage) -> tuple[float, ...]:
    """The StampAnnot's Boundary (x, y, w, h in mm) of the first signature."""
    xml = next(package[name] for name in package if name.endswith("Signature.xml"))
    found = re.search(rb'Boundary="([^"]+)"', xml)
    assert found, xml[:400]
    return tuple(float(v) for v in found.group(1).split())


def test_the_enterprise_key_may_use_no_other_seal_and_issue_nothing(
    api_world: ApiWorld, market_token: str, one_call: dict
) -> None:
    token = one_call["enterprise"]["api_key"]
    other = _issue(
        api_world, market_token, licence_body(new_credit_code(), enterprise_seals=["公章"])
    )
    assert other.status_code == 201, other.text
    foreign = [
        _seal(other.json(), "公章")["code"],  # another enterprise's
        api_world.demo_seal(MARKET, "sm2").code,  # the market regulator's
    ]
    for code in foreign:
        refused = api_world.client.post(
            f"/v1/seals/{code}/sign",
            content=chinese_pdf(1),
            headers={**bearer(token), "Content-Type": "application/pdf"},
        )
        assert "another department" in assert_problem(refused, 403)["detail"]
    refused = _issue(api_world, token, licence_body(new_credit_code()))
    assert "scope" in assert_problem(refused, 403)["detail"]
    key_id = token.split("_")[1]
    refusals = [
        e for e in _audit(api_world, "seal.refused") if e["details"].get("api_key") == key_id
    ]
    assert {e["seal_code"] for e in refusals} >= set(foreign)


def test_the_seal_directory_lists_the_set_with_status(api_world: ApiWorld, one_call: dict) -> None:
    credit_code = one_call["enterprise"]["credit_code"]
    listed = api_world.client.get("/v1/seals", params={"department": credit_code})
    assert listed.status_code == 200
    assert {s["code"]: s["status"] for s in listed.json()} == {
        s["code"]: "active" for s in one_call["enterprise"]["seals"]
    }


# --- a set for a licence issued before ------------------------------------------------------


def test_a_set_for_an_existing_licence_on_request(api_world: ApiWorld, market_token: str) -> None:
    credit_code = new_credit_code()
    licence = _issue(api_world, market_token, licence_body(credit_code))
    assert licence.status_code == 201, licence.text
    path = f"/v1/enterprises/{credit_code}/seals"
    first = api_world.client.post(
        path, json={"seals": ["公章", "invoice"]}, headers=bearer(market_token)
    )
    assert first.status_code == 201, first.text
    assert [s["kind"] for s in first.json()["seals"]] == ["公章", "发票专用章"]
    assert first.json()["api_key"].startswith("sk_")
    again = api_world.client.post(path, json={"seals": ["公章"]}, headers=bearer(market_token))
    assert "already holds a 公章" in assert_problem(again, 409)["detail"]
    rest = api_world.client.post(path, json={}, headers=bearer(market_token))
    assert rest.status_code == 201, rest.text
    assert sorted(rest.json()["issued"]) == sorted(
        s["code"]
        for s in rest.json()["seals"]
        if s["kind"] in ("财务专用章", "合同专用章", "法定代表人名章")
    )
    assert rest.json()["api_key"] is None  # the enterprise has its key already
    other = api_world.api_key(department="ZZ-D14", scopes={"licence"})
    assert_problem(api_world.client.post(path, json={}, headers=bearer(other)), 403)
    assert_problem(
        api_world.client.get(f"/v1/enterprises/{credit_code}", headers=bearer(other)), 403
    )
    unknown = f"/v1/enterprises/{new_credit_code()}/seals"
    assert_problem(api_world.client.post(unknown, json={}, headers=bearer(market_token)), 404)
    assert_problem(
        api_world.client.post("/v1/enterprises/123/seals", json={}, headers=bearer(market_token)),
        400,
    )
    shown = api_world.client.get(f"/v1/enterprises/{credit_code}", headers=bearer(market_token))
    assert shown.status_code == 200 and len(shown.json()["seals"]) == 5


# --- lifecycle: the set follows the licence -------------------------------------------------


def test_reissue_keeps_the_set_and_annulment_revokes_it(
    api_world: ApiWorld, market_token: str, tmp_path: Path
) -> None:
    credit_code = new_credit_code()
    issued = _issue(api_world, market_token, licence_body(credit_code, enterprise_seals=ALL_KINDS))
    assert issued.status_code == 201, issued.text
    body = issued.json()
    token = body["enterprise"]["api_key"]
    contract_seal = _seal(body, "合同专用章")["code"]
    contract = api_world.client.post(
        f"/v1/seals/{contract_seal}/sign",
        content=chinese_pdf(1),
        headers={**bearer(token), "Content-Type": "application/pdf"},
        params={"level": "B-T"},
    )
    assert contract.status_code == 200, contract.text

    # 换发 (a new version of the same licence) keeps the seals as they are
    reissue_licence(
        api_world.context, body["number"], {"address": "河南省郑州市金水区花园路1号"},
        actor="test:enterprise", reason="换发", sealer=api_world.app.state.sealer,
    )  # fmt: skip
    shown = api_world.client.get(f"/v1/enterprises/{credit_code}", headers=bearer(market_token))
    assert {s["status"] for s in shown.json()["seals"]} == {"active"}

    # 吊销: every seal of the set revoked in the annulment, reason and time recorded
    annulled = api_world.client.post(
        f"/v1/licences/{body['number']}/annul",
        json={"kind": "revoked", "reason": "提交虚假材料取得登记"},
        headers=bearer(market_token),
    )
    assert annulled.status_code == 200, annulled.text
    shown = api_world.client.get(f"/v1/enterprises/{credit_code}", headers=bearer(market_token))
    enterprise = shown.json()
    assert enterprise["closed_at"] is not None
    assert {s["status"] for s in enterprise["seals"]} == {"revoked"}
    assert {s["revocation_reason"] for s in enterprise["seals"]} == {"privilege_withdrawn"}
    revoked_at = datetime.fromisoformat(enterprise["seals"][0]["revoked_at"])
    (closed,) = [
        e
        for e in _audit(api_world, "enterprise.close")
        if e["details"]["credit_code"] == credit_code
    ]
    assert closed["details"]["annul_kind"] == "revoked"
    assert sorted(closed["details"]["revoked_seals"]) == sorted(
        s["code"] for s in enterprise["seals"]
    )

    # the CRL the service publishes lists every serial, with the reason (openssl reads it)
    crl = api_world.client.get("/pki/sm2/issuing.crl")
    (tmp_path / "issuing.crl").write_bytes(crl.content)
    text = openssl(
        "crl", "-inform", "DER", "-in", "issuing.crl", "-noout", "-text", cwd=tmp_path
    ).stdout
    with api_world.context.database.session(read_only=True) as session:
        for entry in enterprise["seals"]:
            serial = seals.show(session, entry["code"]).current_certificate.serial
            hex_serial = format(int(serial), "X")
            hex_serial = hex_serial if len(hex_serial) % 2 == 0 else "0" + hex_serial
            block = text.split(f"Serial Number: {hex_serial}")[1].split("Serial Number:")[0]
            assert "Privilege Withdrawn" in block, block

    # the seals can no longer seal ...
    refused = api_world.client.post(
        f"/v1/seals/{contract_seal}/sign",
        content=chinese_pdf(1),
        headers={**bearer(token), "Content-Type": "application/pdf"},
    )
    assert "revoked" in assert_problem(refused, 409)["detail"]
    # ... and the contract sealed before stays valid: its time-stamp predates the revocation
    report = _verify(api_world.client, contract.content, "contract.pdf")
    assert report["verdict"] == "TOTAL_PASSED", report
    (signature,) = [s for s in report["signatures"] if s["kind"] == "signature"]
    assert signature["revocation"]["status"] == "revoked"
    assert signature["revocation"]["reason"] == "privilege_withdrawn"
    proven = datetime.fromisoformat(signature["best_signature_time"])
    assert proven < datetime.fromisoformat(signature["revocation"]["revoked_at"])
    assert proven < revoked_at
    # and no new set for a closed enterprise
    again = api_world.client.post(
        f"/v1/enterprises/{credit_code}/seals", json={}, headers=bearer(market_token)
    )
    assert again.status_code in (404, 409)


def test_cancellation_revokes_with_cessation_of_operation(
    api_world: ApiWorld, market_token: str
) -> None:
    credit_code = new_credit_code()
    issued = _issue(api_world, market_token, licence_body(credit_code, enterprise_seals=["公章"]))
    assert issued.status_code == 201, issued.text
    annulled = api_world.client.post(
        f"/v1/licences/{issued.json()['number']}/annul",
        json={"kind": "cancelled", "reason": "企业申请注销登记"},
        headers=bearer(market_token),
    )
    assert annulled.status_code == 200, annulled.text
    listed = api_world.client.get("/v1/seals", params={"department": credit_code}).json()
    assert [s["status"] for s in listed] == ["revoked"]
    with api_world.context.database.session(read_only=True) as session:
        view = seals.show(session, listed[0]["code"])
    assert view.revocation_reason == "cessation_of_operation" and view.revoked_at is not None


# --- images -------------------------------------------------------------------------------


def _pdf_page_mm(pdf: bytes, tmp_path: Path) -> tuple[float, float]:
    path = tmp_path / "stamp.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    line = next(line for line in info.stdout.splitlines() if line.startswith("Page size:"))
    width, _, height = line.split()[2:5]
    return round(float(width) / 72 * 25.4, 1), round(float(height) / 72 * 25.4, 1)


def _ink_box_mm(png: bytes) -> tuple[float, float]:
    """Width and height of the inked area (alpha > 0) in mm, from the PNG's own dpi."""
    image = Image.open(io.BytesIO(png))
    dpi = image.info["dpi"][0]
    left, top, right, bottom = image.getchannel("A").getbbox()
    return (right - left) / dpi * 25.4, (bottom - top) / dpi * 25.4


@pytest.mark.parametrize(
    ("kind", "size_mm"),
    [
        ("公章", (40.0, 40.0)),
        ("财务专用章", (38.0, 38.0)),
        ("发票专用章", (40.0, 30.0)),
        ("合同专用章", (40.0, 40.0)),
        ("法定代表人名章", (20.0, 20.0)),
    ],
)
def test_images_have_the_customary_shape_and_size(
    api_world: ApiWorld, one_call: dict, kind: str, size_mm: tuple[float, float], tmp_path: Path
) -> None:
    code = _seal(one_call, kind)["code"]
    with api_world.context.database.session(read_only=True) as session:
        appearance = seals.appearance(seals.get(session, code))
    # the vector appearance (the PDF stamp) is exactly the seal's size, as pdfinfo reads it
    assert _pdf_page_mm(seals.seal_stamp_pdf(appearance), tmp_path) == size_mm
    png = api_world.client.get(f"/v1/seals/{code}/image.png").content
    width, height = _ink_box_mm(png)
    assert width == pytest.approx(size_mm[0], abs=0.3) and height == pytest.approx(
        size_mm[1], abs=0.3
    )
    image = Image.open(io.BytesIO(png)).getchannel("A")
    w, h = image.size
    centre, corner = image.getpixel((w // 2, h // 2)), image.getpixel((2, 2))
    if kind == "法定代表人名章":  # square: the border reaches the corners
        assert corner > 128
    else:  # round or oval: nothing in the corner
        assert corner == 0
    if kind == "发票专用章":
        assert width / height == pytest.approx(4 / 3, rel=0.02)
        assert centre > 0 or any(image.getpixel((x, h // 2)) for x in range(w // 3, 2 * w // 3))


@pytest.mark.parametrize(
    ("kind", "size_mm"),
    [("发票专用章", (40.0, 30.0)), ("法定代表人名章", (20.0, 20.0)), ("公章", (40.0, 40.0))],
)
def test_a_sealed_pdf_shows_the_stamp_at_its_printed_size(
    api_world: ApiWorld, one_call: dict, kind: str, size_mm: tuple[float, float], tmp_path: Path
) -> None:
    """The page as poppler draws it (pdftoppm, 300 dpi): the red ink of the stamp measures
    the seal's printed size, whatever its shape."""
    code = _seal(one_call, kind)["code"]
    sealed = api_world.client.post(
        f"/v1/seals/{code}/sign",
        content=chinese_pdf(1),
        headers={**bearer(one_call["enterprise"]["api_key"]), "Content-Type": "application/pdf"},
        params={"level": "B-B", "x_mm": 100, "y_mm": 100},
    )
    assert sealed.status_code == 200, sealed.text
    (tmp_path / "sealed.pdf").write_bytes(sealed.content)
    subprocess.run(
        ["pdftoppm", "-r", "300", "-png", "-singlefile", "sealed.pdf", "page"],
        cwd=tmp_path, check=True,
    )  # fmt: skip
    page = Image.open(tmp_path / "page.png").convert("RGB")
    red, green, _blue = page.split()
    # seal red (230, 0, 18): strong red, little green; the page's black text has no red
    ink = Image.eval(red, lambda v: 255 if v > 150 else 0)
    ink = Image.composite(
        ink, Image.new("L", page.size, 0), Image.eval(green, lambda v: 255 if v < 120 else 0)
    )
    left, top, right, bottom = ink.getbbox()
    measured = ((right - left) / 300 * 25.4, (bottom - top) / 300 * 25.4)
    assert measured == pytest.approx(size_mm, abs=0.5), measured
