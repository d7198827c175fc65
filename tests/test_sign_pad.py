"""The signature pad over HTTP: signing requests, the pad page, drawings, single use, expiry.

Driven in process (``api_world``) with a real identity provider (its own keys and JWKS),
real PDFs and the real signing path; the browser test (``test_sign_pad_browser.py``)
draws on the canvas in Chromium.
"""

from __future__ import annotations

import base64
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from helpers.idp_fixtures import AUDIENCE, ID_NUMBER, TestProvider
from helpers.ofd_documents import unsigned_ofd
from helpers.pdf_fixtures import chinese_pdf
from PIL import Image, ImageDraw
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select, update

from api.v1 import HTTP_NAMES
from sealsvc import audit, identity, signature_images, signing_requests
from sealsvc.errors import InvalidInput
from sealsvc.models import AuditEntry, SigningRequest, utcnow
from sealsvc.pades import Level, Placement
from sealsvc.verification.ofd import render_face

pytest_plugins = ("helpers.api_fixtures",)  # api_world

ACTOR = "test:pad"
ISSUER = "https://pad.id.test.zhengzhou.example"


def drawing(width: int = 600, height: int = 240, strokes: int = 3) -> bytes:
    """A canvas-like PNG: transparent, with dark strokes as a hand would draw them."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for n in range(strokes):
        y = 60 + 50 * n
        draw.line([(40, y), (200, y + 40), (360, y - 20), (540, y + 30)], fill="#111", width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def blank(colour: tuple[int, int, int, int] = (0, 0, 0, 0)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (600, 240), colour).save(out, format="PNG")
    return out.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.fixture(scope="module")
def provider(api_world, tmp_path_factory: pytest.TempPathFactory) -> TestProvider:
    provider = TestProvider(tmp_path_factory.mktemp("idp"), issuer=ISSUER)
    with api_world.context.database.session() as session:
        identity.add_provider(
            session,
            name="pad-idp",
            issuer=ISSUER,
            audience=AUDIENCE,
            jwks=str(provider.jwks_file),
            actor=ACTOR,
        )
    return provider


@pytest.fixture(scope="module")
def platform(api_world) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_world.api_key(department=None, scopes={'signature'})}"}


def create(api_world, provider: TestProvider, headers: dict[str, str], **fields: str):
    form = {"id_token": provider.token(), "role": "申请人", **fields}
    return api_world.client.post(
        "/v1/signatures/requests",
        headers=headers,
        files={"file": ("form.pdf", chinese_pdf(), "application/pdf")},
        data=form,
    )


def request_id(api_world, provider, platform) -> str:
    response = create(api_world, provider, platform, x_mm="150", y_mm="60", size_mm="40")
    assert response.status_code == 201, response.text
    return response.json()["request_id"]


def submit(api_world, rid: str, origin: str | None = None, **form: str):
    headers = {"Origin": origin} if origin else {}
    return api_world.client.post(f"/sign/{rid}", data=form, headers=headers)


# --- the drawing --------------------------------------------------------------------------


def test_a_drawing_is_cropped_to_its_strokes() -> None:
    png = signature_images.checked_signature_png(drawing())
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "RGBA"
        assert image.width < 600 and image.height < 240  # the empty margins are gone
        assert image.getchannel("A").getbbox() is not None


@pytest.mark.parametrize(
    ("png", "message"),
    [
        (blank(), "blank"),
        (blank((255, 255, 255, 255)), "blank"),  # a white canvas: paper, no ink
        (b"GIF89a not a png", "not a PNG"),
        (drawing(3000, 200), "pixels"),
    ],
    ids=["transparent", "white", "not-png", "too-wide"],
)
def test_blank_or_bad_drawings_are_refused(png: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        signature_images.checked_signature_png(png)


def test_a_saved_signature_is_replaced_and_audited(api_world, provider) -> None:
    person = identity.verify_id_token(api_world.context, provider.token(sub="u-img"), actor=ACTOR)
    with api_world.context.database.session() as session:
        first = signature_images.set_image(session, person, drawing(strokes=1), actor=ACTOR)
        second = signature_images.set_image(session, person, drawing(strokes=3), actor=ACTOR)
        assert signature_images.get_image(session, person) == second != first
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == signature_images.ACTION_SET)
        ).all()
    replaced = [json.loads(e.details)["replaced"] for e in entries[-2:]]
    assert replaced == [False, True]


# --- the platform's API -------------------------------------------------------------------


def test_a_request_gives_an_unguessable_single_person_url(api_world, provider, platform) -> None:
    response = create(api_world, provider, platform, anchor="（盖章）")
    assert response.status_code == 201, response.text
    body = response.json()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", body["request_id"])  # 128 random bits
    assert body["sign_url"] == f"{api_world.settings.base_url}/sign/{body['request_id']}"
    assert body["status"] == "pending"
    assert body["signer"] == {"name_masked": "张*丰", "id_masked": "4101**********1213"}
    status = api_world.client.get(f"/v1/signatures/requests/{body['request_id']}", headers=platform)
    assert status.json()["status"] == "pending"
    assert ID_NUMBER not in response.text + status.text


@pytest.mark.parametrize(
    ("fields", "status", "needle"),
    [
        ({"id_token": ""}, 400, "id_token"),
        ({"id_token": "eyJhbGciOiJub25lIn0.e30."}, 401, "check"),
        ({"role": ""}, 422, "role"),
        ({"x_mm": "10"}, 400, "x_mm and y_mm"),
        ({"level": "B-B"}, 400, "level"),
    ],
    ids=["no-token", "bad-token", "no-role", "half-position", "level"],
)
def test_bad_requests_are_problems(api_world, provider, platform, fields, status, needle) -> None:
    response = create(api_world, provider, platform, **fields)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert needle in response.text


@pytest.mark.parametrize(
    ("document", "needle"),
    [(b"hello", "neither a PDF"), (b"PK\x03\x04 no OFD.xml inside", "neither a PDF")],
    ids=["text", "zip"],
)
def test_not_a_pdf_is_refused(api_world, provider, platform, document, needle) -> None:
    response = api_world.client.post(
        "/v1/signatures/requests",
        headers=platform,
        files={"file": ("x.pdf", document, "application/pdf")},
        data={"id_token": provider.token(), "role": "申请人"},
    )
    assert response.status_code == 400 and needle in response.text


def test_the_scope_and_the_creating_key_are_required(api_world, provider, platform) -> None:
    sealing = {"Authorization": f"Bearer {api_world.api_key(department='ZZ-D26', scopes={'sign'})}"}
    assert create(api_world, provider, sealing).status_code == 403
    rid = request_id(api_world, provider, platform)
    other = {"Authorization": f"Bearer {api_world.api_key(department=None, scopes={'signature'})}"}
    assert api_world.client.get(f"/v1/signatures/requests/{rid}", headers=other).status_code == 404


# --- the pad page -------------------------------------------------------------------------


def test_the_pad_shows_the_person_masked_and_the_first_page(api_world, provider, platform) -> None:
    rid = request_id(api_world, provider, platform)
    page = api_world.client.get(f"/sign/{rid}")
    assert page.status_code == 200
    assert "张*丰" in page.text and "申请人" in page.text and "<canvas" in page.text
    assert ID_NUMBER not in page.text and "张三丰" not in page.text
    csp = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'<script nonce="{nonce}">' in page.text and "http" not in csp
    preview = api_world.client.get(f"/sign/{rid}/page.png")
    assert preview.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(preview.content)) as image:
        assert max(image.size) == signing_requests.PREVIEW_PX
        assert image.convert("L").getextrema()[0] < 100  # the page's text is there


def test_a_blank_or_foreign_submission_is_refused(api_world, provider, platform) -> None:
    rid = request_id(api_world, provider, platform)
    refused = submit(api_world, rid, signature=data_url(blank()))
    assert refused.status_code == 400 and "签名为空" in refused.text and "<canvas" in refused.text
    assert submit(api_world, rid, signature="").status_code == 400
    foreign = submit(api_world, rid, "https://evil.example", signature=data_url(drawing()))
    assert foreign.status_code == 403 and "签名页面" in foreign.text
    status = api_world.client.get(f"/v1/signatures/requests/{rid}", headers=platform)
    assert status.json()["status"] == "pending"  # nothing of it was used
    with api_world.context.database.session(read_only=True) as session:
        refusal = audit.query(session, action=signing_requests.ACTION_REFUSED)[-1]
    details = json.loads(refusal.details)
    assert details["request"] == signing_requests.request_ref(rid)
    assert details["origin"] == "https://evil.example" and "another site" in details["reason"]


def test_drawing_signs_once_and_the_platform_gets_the_document(
    api_world, provider, platform
) -> None:
    rid = request_id(api_world, provider, platform)
    origin = api_world.settings.base_url
    done = submit(api_world, rid, origin, signature=data_url(drawing()))
    assert done.status_code == 200, done.text
    assert "签名完成" in done.text
    mine = api_world.client.get(f"/sign/{rid}/signed.pdf")
    status = api_world.client.get(f"/v1/signatures/requests/{rid}", headers=platform).json()
    assert status["status"] == "signed" and status["signed_at"]
    theirs = api_world.client.get(status["document_url"].removeprefix(origin), headers=platform)
    assert theirs.content == mine.content
    signatures = PdfFileReader(io.BytesIO(theirs.content)).embedded_signatures
    assert [s.field_name.startswith("Signature") for s in signatures] == [True]
    # single use: the pad and a second submission now answer 410
    assert api_world.client.get(f"/sign/{rid}").status_code == 410
    again = submit(api_world, rid, origin, signature=data_url(drawing()))
    assert again.status_code == 410 and "已失效" in again.text
    with api_world.context.database.session(read_only=True) as session:
        refusal = audit.query(session, action=signing_requests.ACTION_REFUSED)[-1]
    assert "signed" in json.loads(refusal.details)["reason"]
    with api_world.context.database.session(read_only=True) as session:
        logged = " ".join(f"{e.actor} {e.details}" for e in session.scalars(select(AuditEntry)))
    assert rid not in logged and ID_NUMBER not in logged
    assert signing_requests.request_ref(rid) in logged


def test_the_saved_signature_signs_a_later_request(api_world, provider, platform) -> None:
    first = request_id(api_world, provider, platform)
    assert submit(api_world, first, signature=data_url(drawing())).status_code == 200
    later = request_id(api_world, provider, platform)
    page = api_world.client.get(f"/sign/{later}")
    assert "使用已保存的签名" in page.text
    saved = api_world.client.get(f"/sign/{later}/saved.png")
    assert saved.headers["content-type"] == "image/png"
    assert submit(api_world, later, use_saved="1").status_code == 200


def test_unknown_expired_and_cancelled_requests_are_pages(api_world, provider, platform) -> None:
    unknown = api_world.client.get("/sign/AAAAAAAAAAAAAAAAAAAAAA")
    assert unknown.status_code == 404 and "签名请求不存在" in unknown.text
    assert api_world.client.get("/sign/" + "x" * 300).status_code == 404
    expired = request_id(api_world, provider, platform)
    with api_world.context.database.session() as session:
        session.execute(
            update(SigningRequest)
            .where(SigningRequest.id == expired)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    page = api_world.client.get(f"/sign/{expired}")
    assert page.status_code == 410 and "已过期" in page.text
    assert submit(api_world, expired, signature=data_url(drawing())).status_code == 410
    status = api_world.client.get(f"/v1/signatures/requests/{expired}", headers=platform)
    assert status.json()["status"] == "expired"
    request_id(api_world, provider, platform)  # a new request sweeps the expired documents
    with api_world.context.database.session(read_only=True) as session:
        row = session.get(SigningRequest, expired)
        assert (row.status, row.document) == ("expired", b"")
    cancelled = request_id(api_world, provider, platform)
    gone = api_world.client.delete(f"/v1/signatures/requests/{cancelled}", headers=platform)
    assert gone.status_code == 204
    assert api_world.client.get(f"/sign/{cancelled}").status_code == 410
    with api_world.context.database.session(read_only=True) as session:
        actions = [e.action for e in audit.query(session, action=signing_requests.ACTION_CANCEL)]
    assert actions


def test_two_submissions_at_once_keep_one_result(api_world, provider, platform) -> None:
    """Single use holds under a race: both may sign, only one result is stored."""
    rid = request_id(api_world, provider, platform)

    def attempt() -> str:
        try:
            signing_requests.sign(
                api_world.context,
                rid,
                drawn_png=drawing(),
                actor=ACTOR,
                names=HTTP_NAMES,
                trust=api_world.app.state.trust,
            )
        except signing_requests.RequestGone:
            return "gone"
        return "signed"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda _: attempt(), range(2)))
    assert outcomes == ["gone", "signed"]
    with api_world.context.database.session(read_only=True) as session:
        row = session.get(SigningRequest, rid)
        assert row.status == "signed" and row.result and row.document == b""
        stored = [
            value
            for request in session.scalars(select(SigningRequest))
            for value in (request.name, request.subject, request.id_masked, request.options)
        ]
    assert ID_NUMBER not in " ".join(stored)


def test_images_and_requests_are_kept_on_each_database(database, tmp_path) -> None:
    """The tables of revision 0007 on SQLite and PostgreSQL: a replaced image, a request."""
    provider = TestProvider(tmp_path, issuer=ISSUER)
    with database.session() as session:
        identity.add_provider(
            session,
            name="pad-idp",
            issuer=ISSUER,
            audience=AUDIENCE,
            jwks=str(provider.jwks_file),
            actor=ACTOR,
        )
    person = identity.PersonIdentity(
        provider="pad-idp",
        subject="u-db",
        name="李四",
        id_type="id_card",
        id_hash="ab" * 32,
        id_masked="4101**********1213",
        token_id="t-1",
        expires_at=utcnow() + timedelta(minutes=5),
    )
    options = signing_requests.RequestOptions(
        placement=Placement(x_mm=100, y_mm=50, names=HTTP_NAMES), level=Level.B_T, role="经办人"
    )
    with database.session() as session:
        signature_images.set_image(session, person, drawing(strokes=1), actor=ACTOR)
        newer = signature_images.set_image(session, person, drawing(strokes=2), actor=ACTOR)
        row = signing_requests.create(
            session, chinese_pdf(), person, options, api_key_id="0" * 16, actor=ACTOR
        )
        rid = row.id
    with database.session(read_only=True) as session:
        assert signature_images.get_image(session, person) == newer
        row = signing_requests.open_for_person(session, rid)
        assert signing_requests.identity_of(session, row) == person
        again = signing_requests.RequestOptions.from_json(row.options, HTTP_NAMES)
        assert again == options
        assert row.expires_at == person.expires_at  # capped by the token's expiry


def test_the_pad_signs_with_an_sm2_event_certificate_when_asked(
    api_world, provider, platform
) -> None:
    response = create(api_world, provider, platform, x_mm="75", y_mm="40", hierarchy="sm2")
    assert response.status_code == 201, response.text
    rid = response.json()["request_id"]
    assert submit(api_world, rid, signature=data_url(drawing())).status_code == 200
    signed = api_world.client.get(f"/sign/{rid}/signed.pdf").content
    report = api_world.client.post(
        "/v1/verify", files={"file": ("signed.pdf", signed, "application/pdf")}
    ).json()
    assert report["verdict"] == "TOTAL_PASSED", report
    (signature,) = report["signatures"]
    assert signature["person"]["role"] == "申请人"
    assert signature["signer"]["algorithm"] == "SM2"


def test_the_pad_signs_an_ofd_with_the_drawing_as_its_appearance(
    api_world, provider, platform
) -> None:
    """An OFD goes through the pad as a PDF does: its first page is shown (our OFD
    renderer), the drawing becomes the ``Type="Sign"``'s appearance, time-stamped."""
    data = unsigned_ofd(pages=1).to_bytes()  # A4 portrait
    response = api_world.client.post(
        "/v1/signatures/requests",
        headers=platform,
        files={"file": ("form.ofd", data, "application/ofd")},
        data={"id_token": provider.token(), "role": "申请人", "x_mm": "105", "y_mm": "100",
              "size_mm": "30"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    rid = response.json()["request_id"]
    preview = api_world.client.get(f"/sign/{rid}/page.png")
    assert preview.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(preview.content)) as image:
        assert abs(max(image.size) - signing_requests.PREVIEW_PX) <= 1  # A4's long side
        assert image.size[0] < image.size[1]  # the page, portrait
    assert submit(api_world, rid, signature=data_url(drawing())).status_code == 200
    download = api_world.client.get(f"/sign/{rid}/signed.pdf")
    assert download.headers["content-type"] == "application/ofd"
    assert 'filename="signed.ofd"' in download.headers["content-disposition"]
    report = api_world.client.post(
        "/v1/verify", files={"file": ("signed.ofd", download.content, "application/ofd")}
    ).json()
    assert report["verdict"] == "TOTAL_PASSED", report
    (signature,) = report["signatures"]
    assert signature["person"]["name"] == "张*丰" and signature["person"]["certificate"] == "event"
    assert signature["timestamp"]["valid"]
    before = Image.open(io.BytesIO(render_face(data))).convert("L")
    after = Image.open(io.BytesIO(render_face(download.content))).convert("L")
    scale = after.width / 210
    box = tuple(round(v * scale) for v in (90, 182, 120, 212))  # the StampAnnot's square
    ink = [sum(face.crop(box).histogram()[:128]) for face in (before, after)]
    assert ink[0] == 0 and ink[1] > 100, ink


@pytest.mark.parametrize(
    "body",
    [
        b"signature=data%3Aimage%2Fpng%3Bbase64%2C%21%21%21",  # not base64
        b"signature=data%3Aimage%2Fjpeg%3Bbase64%2CAAAA",  # not a PNG data URL
        b"signature=" + b"A" * (signature_images.MAX_IMAGE_BYTES * 2),  # too large
        b"a=1&b=2&c=3&d=4&e=5&f=6",  # too many fields
        "signature=签".encode(),  # not the form's encoding
        b"signature=" + data_url(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).encode(),  # broken PNG
    ],
    ids=["base64", "jpeg", "large", "fields", "non-ascii", "broken-png"],
)
def test_hostile_submissions_get_the_pad_again(api_world, provider, platform, body) -> None:
    rid = request_id(api_world, provider, platform)
    response = api_world.client.post(
        f"/sign/{rid}",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400, response.text
    assert "<canvas" in response.text and 'class="error"' in response.text
    status = api_world.client.get(f"/v1/signatures/requests/{rid}", headers=platform)
    assert status.json()["status"] == "pending"
