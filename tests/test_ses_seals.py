"""Every SM2 seal's GB/T 38540 SESeal: made on issue, rotate, renew and image changes, kept
with its history, backfilled for older seals, shown and exported by sealctl and the API.

Real seals on real CAs (``seal_context``: SQLite and PostgreSQL); the maker's SM2 signature
over what we store and what we export is checked with ``openssl pkeyutl``, over the bytes
our parser extracts and over bytes ``openssl asn1parse`` extracts by itself.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import Result
from helpers.pki_fixtures import openssl
from helpers.ses_openssl import asn1parse, children, extract_contents, extract_tlv, openssl_verifies
from PIL import Image
from sqlalchemy import delete, select, update

from pki import ses
from pki.certificates import load_certificate
from sealsvc import seals, ses_seals
from sealsvc.context import ServiceContext
from sealsvc.errors import Conflict, NotFound
from sealsvc.models import AuditEntry, Certificate, SesSeal
from sealsvc.sealimage import appearance

pytest_plugins = ("helpers.seal_fixtures", "helpers.api_fixtures")  # seal_context, api_world

ACTOR = "test:ses-seals"
FTZ = {"department": "ZZ-FTZ", "kind": "行政审批专用章"}
Sealctl = Callable[..., Result]


def _issue(context: ServiceContext, algorithm: str = "sm2", **options: object) -> str:
    return seals.issue(context, **FTZ, algorithm=algorithm, actor=ACTOR, **options).code


def _rows(context: ServiceContext, code: str) -> list[SesSeal]:
    with context.database.session(read_only=True) as session:
        seal_id = seals.get(session, code).id
        rows = session.scalars(
            select(SesSeal).where(SesSeal.seal_id == seal_id).order_by(SesSeal.id)
        ).all()
        session.expunge_all()
        return list(rows)


def _current(context: ServiceContext, code: str) -> ses.SesSeal:
    with context.database.session(read_only=True) as session:
        return ses.parse_seal(ses_seals.current(session, code).der)


def _certificate_der(context: ServiceContext, code: str) -> bytes:
    with context.database.session(read_only=True) as session:
        return seals.get(session, code).current_certificate.der


def test_an_sm2_seal_gets_its_seal_object_on_issue(seal_context: ServiceContext) -> None:
    code = _issue(seal_context)
    parsed = _current(seal_context, code)
    with seal_context.database.session(read_only=True) as session:
        seal = seals.get(session, code)
        certificate = seal.current_certificate
        maker = seal_context.ca.seal_maker(session)
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.seal_code == code).order_by(AuditEntry.seq)
        ).all()
        png = seals.seal_png(seal)
    assert parsed.version == 4 and parsed.es_id == code
    assert parsed.name == "中国（河南）自由贸易试验区郑州片区管理委员会行政审批专用章"
    assert parsed.seal_type == ses_seals.ORGANISATION_SEAL == 1
    assert parsed.certificates == (certificate.der,)
    assert parsed.valid_start == certificate.not_before.replace(microsecond=0)
    assert parsed.valid_end == certificate.not_after.replace(microsecond=0)
    assert parsed.maker_certificate == maker.der
    assert (parsed.picture.type, parsed.picture.width_mm, parsed.picture.height_mm) == (
        "png", 42, 42,
    )  # fmt: skip
    assert parsed.picture.data == png
    assert Image.open(io.BytesIO(parsed.picture.data)).format == "PNG"
    assert ses.check_seal(parsed).passed
    actions = [e.action for e in entries]
    assert actions.index("cert.issue") < actions.index("ses.make") < actions.index("seal.issue")
    made = json.loads(next(e.details for e in entries if e.action == "ses.make"))
    assert made["maker_serial"] == maker.serial and made["reason"] == "issue"
    assert made["sha256"] == _rows(seal_context, code)[0].sha256


def test_rsa_seals_have_none_and_asking_is_a_409(seal_context: ServiceContext) -> None:
    code = _issue(seal_context, algorithm="rsa")
    with seal_context.database.session(read_only=True) as session:
        assert session.scalars(select(SesSeal)).all() == []
        with pytest.raises(ses_seals.NoSesSeal, match="SM2 seals only") as raised:
            ses_seals.current(session, code)
        assert raised.value.status == 409
        with pytest.raises(NotFound):
            ses_seals.current(session, "41010099999999")


def test_rotate_renew_and_image_changes_make_a_new_one(seal_context: ServiceContext) -> None:
    code = _issue(seal_context)
    seals.rotate(seal_context, code, actor=ACTOR)
    after_rotate = _certificate_der(seal_context, code)
    assert _current(seal_context, code).certificates == (after_rotate,)
    seals.renew(seal_context, code, actor=ACTOR)
    after_renew = _certificate_der(seal_context, code)
    assert after_renew != after_rotate
    assert _current(seal_context, code).certificates == (after_renew,)
    scan = io.BytesIO()
    Image.new("RGBA", (400, 400), (200, 0, 0, 255)).save(scan, "PNG")
    seals.set_uploaded_image(seal_context, code, scan.getvalue(), actor=ACTOR)
    uploaded = _current(seal_context, code).picture.data
    with seal_context.database.session(read_only=True) as session:
        assert uploaded == seals.seal_png(seals.get(session, code))
    rows = _rows(seal_context, code)
    assert [r.reason for r in rows] == ["issue", "rotate", "renew", "image"]
    assert [r.superseded_at is None for r in rows] == [False, False, False, True]
    assert len({r.sha256 for r in rows}) == 4
    # suspend, resume and revoke make none: the registry status is what verification reads
    seals.suspend(seal_context, code, actor=ACTOR)
    seals.resume(seal_context, code, actor=ACTOR)
    seals.revoke(seal_context, code, reason="key_compromise", actor=ACTOR)
    assert len(_rows(seal_context, code)) == 4


def test_seal_images_are_drawn_before_the_write_lock(
    seal_context: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawing takes about a second: never while a lifecycle change holds the database."""
    inside: list[bool] = []
    drawn_inside: list[bool] = []
    original_change, original_render = seals._change, appearance.render_png

    @contextmanager
    def tracked(*args, **kwargs):
        with original_change(*args, **kwargs) as change:
            inside.append(True)
            try:
                yield change
            finally:
                inside.pop()

    def render(*args, **kwargs) -> bytes:
        drawn_inside.append(bool(inside))
        return original_render(*args, **kwargs)

    monkeypatch.setattr(seals, "_change", tracked)
    monkeypatch.setattr(appearance, "render_png", render)
    appearance.stamp_png.cache_clear()
    code = _issue(seal_context)
    seals.rotate(seal_context, code, actor=ACTOR)
    seals.renew(seal_context, code, actor=ACTOR)
    scan = io.BytesIO()
    Image.new("RGBA", (300, 300), (200, 0, 0, 255)).save(scan, "PNG")
    seals.set_uploaded_image(seal_context, code, scan.getvalue(), actor=ACTOR)
    appearance.stamp_png.cache_clear()
    seals.use_generated_image(seal_context, code, actor=ACTOR)
    assert len(_rows(seal_context, code)) == 5
    assert drawn_inside and not any(drawn_inside), drawn_inside


def test_a_failed_change_leaves_no_seal_object(
    seal_context: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _issue(seal_context)

    def broken(*_args: object, **_kwargs: object) -> bytes:
        raise ses.SesError("maker refused")

    monkeypatch.setattr(ses_seals, "make_seal", broken)
    with pytest.raises(ses.SesError):
        seals.renew(seal_context, code, actor=ACTOR)
    rows = _rows(seal_context, code)
    assert [r.reason for r in rows] == ["issue"] and rows[0].superseded_at is None


def test_a_backfill_racing_a_rotation_is_a_conflict(
    seal_context: ServiceContext, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite takes the write lock at BEGIN: writers queue, nothing races")
    code = _issue(seal_context)
    with seal_context.database.session() as session:
        session.execute(delete(SesSeal))
    real_get = seals.get
    raced: list[str] = []

    def get_then_race(session, wanted: str):
        seal = real_get(session, wanted)
        if not raced:  # another node rotates the seal after the backfill has read it
            raced.append(wanted)
            seals.rotate(seal_context, wanted, actor="test:other-node")
        return seal

    monkeypatch.setattr(seals, "get", get_then_race)
    with pytest.raises(Conflict, match="changed concurrently; try again"):
        seals.backfill_ses_seals(seal_context, actor=ACTOR)
    monkeypatch.undo()
    rows = _rows(seal_context, code)
    assert [r.reason for r in rows] == ["rotate"] and rows[0].superseded_at is None


def test_backfill_makes_the_missing_ones_once(seal_context: ServiceContext) -> None:
    old, revoked, rsa = _issue(seal_context), _issue(seal_context), _issue(seal_context, "rsa")
    seals.revoke(seal_context, revoked, reason="cessation_of_operation", actor=ACTOR)
    with seal_context.database.session() as session:  # as if issued before revision 0004
        session.execute(delete(SesSeal))
    with (
        seal_context.database.session(read_only=True) as session,
        pytest.raises(ses_seals.NoSesSeal, match="ses-backfill"),
    ):
        ses_seals.current(session, old)
    assert seals.backfill_ses_seals(seal_context, actor=ACTOR) == [old]
    assert [r.reason for r in _rows(seal_context, old)] == ["backfill"]
    assert _rows(seal_context, revoked) == [] and _rows(seal_context, rsa) == []
    assert seals.backfill_ses_seals(seal_context, actor=ACTOR) == []


def test_a_data_dir_without_a_seal_maker_gets_one(seal_context: ServiceContext) -> None:
    """Initialised before the seal maker existed: the first SESeal creates it, audited."""
    with seal_context.database.session() as session:
        session.execute(
            update(Certificate)
            .where(Certificate.profile == "seal_maker")
            .values(status="superseded")
        )
    code = _issue(seal_context)
    with seal_context.database.session(read_only=True) as session:
        maker = seal_context.ca.seal_maker(session)
        made = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "key.generate").order_by(AuditEntry.seq)
        ).all()[-2:]
    assert _current(seal_context, code).maker_certificate == maker.der
    assert json.loads(made[1].details)["key_id"] == maker.key_id  # seal key, then maker key


def test_openssl_verifies_the_maker_signature_of_an_exported_seal(
    sqlite_seal_context: ServiceContext, sealctl: Sealctl, tmp_path: Path
) -> None:
    code = _issue(sqlite_seal_context)
    out = tmp_path / "seal.esl"
    result = sealctl("seal", "export", code, "--format", "esl", "-o", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    der = out.read_bytes()
    with sqlite_seal_context.database.session(read_only=True) as session:
        stored = ses_seals.current(session, code)
        assert der == stored.der
        assert json.loads(result.stdout)["sha256"] == stored.sha256
    # the layer as our parser extracts it …
    parsed = ses.parse_seal(der)
    (tmp_path / "ours.msg").write_bytes(parsed.signed_bytes)
    (tmp_path / "ours.sig").write_bytes(parsed.signature)
    (tmp_path / "maker.der").write_bytes(parsed.maker_certificate)
    pub = openssl("x509", "-inform", "DER", "-in", tmp_path / "maker.der", "-pubkey", "-noout")
    (tmp_path / "maker.pem").write_text(pub.stdout)
    assert openssl_verifies(tmp_path / "maker.pem", tmp_path / "ours.msg", tmp_path / "ours.sig")
    # … and as openssl asn1parse finds it on its own: SESeal = {info, cert, alg, signedValue}
    rows = asn1parse(out)
    info, cert, _, value = children(rows, rows[0])
    message = extract_tlv(out, info, tmp_path / "info.der")
    signature = extract_contents(out, value, tmp_path / "value.der")
    assert extract_contents(out, cert, tmp_path / "cert.der") == parsed.maker_certificate
    assert (message, signature) == (parsed.signed_bytes, parsed.signature)
    assert openssl_verifies(tmp_path / "maker.pem", tmp_path / "info.der", tmp_path / "value.der")
    (tmp_path / "info.der").write_bytes(message.replace(code.encode(), b"41010005999999"))
    assert not openssl_verifies(
        tmp_path / "maker.pem", tmp_path / "info.der", tmp_path / "value.der"
    )
    assert (
        load_certificate(parsed.maker_certificate)
        .subject.native["common_name"]
        .startswith("郑州市电子印章制章系统")
    )


def test_export_refuses_to_overwrite_and_rsa_seals(
    sqlite_seal_context: ServiceContext, sealctl: Sealctl, tmp_path: Path
) -> None:
    code, rsa = _issue(sqlite_seal_context), _issue(sqlite_seal_context, "rsa")
    out = tmp_path / "seal.esl"
    out.write_bytes(b"keep me")
    refused = sealctl("seal", "export", code, "-o", str(out))
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert out.read_bytes() == b"keep me"
    assert sealctl("seal", "export", code, "-o", str(out), "--force").exit_code == 0
    assert ses.parse_seal(out.read_bytes()).es_id == code
    for args, message in (
        ((rsa, "-o", str(tmp_path / "rsa.esl")), "SM2 seals only"),
        (("41010099999999", "-o", str(tmp_path / "none.esl")), "no seal with code"),
        ((code, "--format", "ofd", "-o", str(tmp_path / "x.esl")), "unknown export format"),
    ):
        result = sealctl("seal", "export", *args)
        assert result.exit_code == 1, result.stdout
        assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr
    assert not (tmp_path / "rsa.esl").exists()


def test_seal_show_lists_the_ses_fields(
    sqlite_seal_context: ServiceContext, sealctl: Sealctl
) -> None:
    code, rsa = _issue(sqlite_seal_context), _issue(sqlite_seal_context, "rsa")
    shown = json.loads(sealctl("seal", "show", code, "--json").stdout)["ses"]
    with sqlite_seal_context.database.session(read_only=True) as session:
        maker = sqlite_seal_context.ca.seal_maker(session)
    assert shown["version"] == 4 and shown["es_id"] == code and shown["type"] == 1
    assert shown["name"].endswith("行政审批专用章")
    assert shown["maker"] == {"subject": maker.subject, "serial": maker.serial}
    assert shown["picture"]["type"] == "png"
    assert (shown["picture"]["width_mm"], shown["picture"]["height_mm"]) == (42, 42)
    assert json.loads(sealctl("seal", "show", rsa, "--json").stdout)["ses"] is None
    text = sealctl("seal", "show", code).stdout
    assert f"SESeal v4: esID {code}" in text and "42x42 mm" in text


def test_backfill_command(sqlite_seal_context: ServiceContext, sealctl: Sealctl) -> None:
    code = _issue(sqlite_seal_context)
    with sqlite_seal_context.database.session() as session:
        session.execute(delete(SesSeal))
    assert "run `sealctl seal ses-backfill`" in sealctl("seal", "show", code).stdout
    assert json.loads(sealctl("seal", "ses-backfill", "--json").stdout) == {"made": [code]}
    assert "made 0 SESeal(s)" in sealctl("seal", "ses-backfill").stdout


def test_the_demo_approval_seal_has_its_seal_object_over_the_api(api_world) -> None:
    """Bootstrap issues the free-trade zone's 行政审批专用章 in SM2: it has an SESeal."""
    demo = api_world.demo_seal("ZZ-FTZ", "sm2")
    assert demo.kind == "行政审批专用章"
    response = api_world.client.get(f"/v1/seals/{demo.code}/seal.esl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert f'filename="{demo.code}.esl"' in response.headers["content-disposition"]
    parsed = ses.parse_seal(response.content)
    assert parsed.es_id == demo.code and ses.check_seal(parsed).passed
    detail = api_world.client.get(f"/v1/seals/{demo.code}").json()
    assert detail["ses"]["es_id"] == demo.code and detail["ses"]["version"] == 4
    assert detail["ses"]["esl_url"].endswith(f"/v1/seals/{demo.code}/seal.esl")
    assert detail["ses"]["sha256"] == hashlib.sha256(response.content).hexdigest()
    rsa = api_world.demo_seal("ZZ-FTZ", "rsa")
    assert api_world.client.get(f"/v1/seals/{rsa.code}").json()["ses"] is None
    refused = api_world.client.get(f"/v1/seals/{rsa.code}/seal.esl")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "SM2 seals only" in refused.json()["detail"]
    missing = api_world.client.get("/v1/seals/41010099999999/seal.esl")
    assert missing.status_code == 404
