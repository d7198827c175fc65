"""Certificates for people (issue #18 §2): event certificates and officials' certificates,
checked with openssl; no ID number in any certificate, audit entry or CLI answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from asn1crypto import x509
from asn1crypto.crl import CertificateList
from click.testing import Result
from fastapi.testclient import TestClient
from helpers.idp_fixtures import AUDIENCE, ID_NUMBER, TestProvider
from helpers.pki_fixtures import openssl, write_pem
from sqlalchemy import select, update

from api.app import create_app
from pki.algorithms import verify
from pki.certificates import POLICY_PERSON_EVENT, POLICY_PERSON_OFFICIAL, Profile
from pki.chain import ChainError, ChainFailure, validate_path
from pki.errors import KeyStoreError
from pki.ocsp import build_request
from sealsvc import apikeys, bootstrap, identity, persons
from sealsvc.context import ServiceContext
from sealsvc.db import Database, alembic_config
from sealsvc.errors import Forbidden
from sealsvc.identity import Check, IdentityTokenRefused, PersonIdentity, verify_id_token
from sealsvc.models import (
    AuditEntry,
    Certificate,
    IdentityTokenUse,
    InstallationSecret,
    utcnow,
)

pytest_plugins = ("helpers.seal_fixtures",)  # seal_context, sqlite_seal_context

ACTOR = "test:person"
SM2_ID = "distid:1234567812345678"


@pytest.fixture
def provider(tmp_path: Path) -> TestProvider:
    return TestProvider(tmp_path)


@pytest.fixture
def context(seal_context: ServiceContext, provider: TestProvider) -> ServiceContext:
    with seal_context.database.session() as session:
        identity.add_provider(
            session,
            name="ywtb",
            issuer=provider.issuer,
            audience=AUDIENCE,
            jwks=str(provider.jwks_file),
            actor=ACTOR,
        )
    return seal_context


def _everything_stored(context: ServiceContext) -> bytes:
    """Every row of every table of interest, as bytes to search for the ID number."""
    with context.database.session(read_only=True) as session:
        audit_rows = [
            f"{e.actor} {e.details}".encode() for e in session.scalars(select(AuditEntry))
        ]
        ders = [c.der + c.subject.encode() for c in session.scalars(select(Certificate))]
    return b"\n".join(audit_rows + ders)


def _assert_no_id_number(haystack: bytes) -> None:
    for needle in (ID_NUMBER, ID_NUMBER[6:14]):  # the number, and its birth date alone
        for encoding in ("ascii", "utf-16-be"):
            assert needle.encode(encoding) not in haystack, needle


def _check_chain(tmp_path: Path, handle: persons.PersonSigner) -> None:
    """``openssl verify`` the certificate to the root; SM2 link by link (design.md)."""
    leaf = write_pem(tmp_path, "leaf.pem", handle.certificate)
    person_ca, root = handle.chain
    ca_file, root_file = (
        write_pem(tmp_path, "ca.pem", person_ca),
        write_pem(tmp_path, "root.pem", root),
    )
    if handle.hierarchy == "rsa":
        result = openssl("verify", "-CAfile", root_file, "-untrusted", ca_file, leaf)
        assert result.returncode == 0 and "leaf.pem: OK" in result.stdout, result.stderr
        return
    for cert, issuer in ((leaf, ca_file), (ca_file, root_file)):
        result = openssl("verify", "-vfyopt", SM2_ID, "-partial_chain", "-CAfile", issuer, cert)
        assert result.returncode == 0 and ": OK" in result.stdout, result.stderr


@pytest.mark.parametrize("hierarchy", ["rsa", "sm2"])
def test_an_event_certificate_lives_minutes_and_its_key_one_event(
    context: ServiceContext, provider: TestProvider, tmp_path: Path, hierarchy: str
) -> None:
    person = verify_id_token(context, provider.token(), actor=ACTOR)
    with persons.event_signer(context, person, hierarchy=hierarchy, actor=ACTOR) as handle:
        signature = handle.signer.sign(b"the document")
        verify(
            handle.certificate.public_key,
            b"the document",
            signature,
            handle.signer.key_algorithm.default_scheme,
        )
    with pytest.raises(KeyStoreError, match="destroyed"):
        handle.signer.sign(b"another document")
    certificate = handle.certificate
    assert handle.event and certificate.subject.native == {
        "country_name": "CN",
        "common_name": "张三丰",
        "serial_number": person.id_hash,
    }
    validity = certificate.not_valid_after - certificate.not_valid_before
    assert timedelta(minutes=10) <= validity <= timedelta(minutes=16)  # 5 min back-dated skew
    text = openssl("x509", "-noout", "-text", "-in", write_pem(tmp_path, "c.pem", certificate))
    assert "Digital Signature, Non Repudiation" in text.stdout
    assert POLICY_PERSON_EVENT in text.stdout and f"/{hierarchy}/person.crl" in text.stdout
    assert f"/pki/{hierarchy}/person-ocsp" in text.stdout and "CA:FALSE" in text.stdout
    _check_chain(tmp_path, handle)
    with context.database.session(read_only=True) as session:
        actions = [
            (e.action, json.loads(e.details))
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        ][-3:]
        row = session.scalars(
            select(Certificate).where(Certificate.profile == Profile.PERSON_EVENT.value)
        ).one()
    assert [a for a, _ in actions] == ["cert.issue", "person.event_cert", "key.destroy"]
    assert actions[1][1]["token_id"] == person.token_id and actions[1][1]["provider"] == "ywtb"
    assert actions[1][1]["serial"] == str(certificate.serial_number) == row.serial
    assert actions[2][1]["key_id"] == row.key_id  # not in the key store: it never was
    assert row.key_id not in {info.key_id for info in context.keystore.list()}
    _assert_no_id_number(_everything_stored(context))


def test_the_personal_ca_sits_under_the_root_beside_the_issuing_ca(
    context: ServiceContext, tmp_path: Path
) -> None:
    with context.database.session(read_only=True) as session:
        for hierarchy in ("rsa", "sm2"):
            person_ca = context.ca.current(session, hierarchy, Profile.PERSON_CA)
            ca_set = context.ca.ca_set(session, hierarchy)
            assert person_ca.issuer_certificate_id == ca_set.root.id
            assert person_ca.key_id != ca_set.issuing.key_id
            text = openssl(
                "x509",
                "-noout",
                "-text",
                "-in",
                write_pem(tmp_path, "p.pem", x509.Certificate.load(person_ca.der)),
            )
            assert (
                "CA:TRUE, pathlen:0" in text.stdout
                and "电子签名个人证书签发CA" in person_ca.subject
            )


def _enroll(sealctl: Callable[..., Result], *extra: str) -> dict:
    result = sealctl(
        "person", "enroll", "--idp", "ywtb", "--subject", "u-1001", "--name", "张三丰",
        "--department", "郑州市市场监督管理局", "--role", "审核人", "--json", *extra,
        input=ID_NUMBER + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert ID_NUMBER not in result.stdout and ID_NUMBER not in result.stderr
    return json.loads(result.stdout[result.stdout.index("{") :])


@pytest.mark.parametrize("hierarchy", ["rsa", "sm2"])
def test_an_official_enrolled_signs_only_with_a_fresh_token_of_their_own(
    sqlite_seal_context: ServiceContext,
    sealctl: Callable[..., Result],
    provider: TestProvider,
    tmp_path: Path,
    hierarchy: str,
) -> None:
    context = sqlite_seal_context
    added = sealctl(
        "idp",
        "add",
        "ywtb",
        "--issuer",
        provider.issuer,
        "--jwks",
        str(provider.jwks_file),
        "--audience",
        AUDIENCE,
        "--json",
    )
    assert added.exit_code == 0, added.stderr
    enrolled = _enroll(sealctl, "-H", hierarchy)
    assert enrolled["id_masked"] == "4101**********1213" and enrolled["name_masked"] == "张*丰"
    assert enrolled["status"] == "active" and enrolled["role"] == "审核人"
    again = sealctl(
        "person",
        "enroll",
        "--idp",
        "ywtb",
        "--subject",
        "u-1001",
        "--name",
        "张三丰",
        "--id-number",
        ID_NUMBER,
    )
    assert again.exit_code == 1 and "already enrolled" in again.stderr
    assert ID_NUMBER not in again.stderr + again.stdout

    person = verify_id_token(context, provider.token(), actor=ACTOR)
    handle = persons.person_signer(context, person, actor=ACTOR)
    assert not handle.event and handle.hierarchy == hierarchy
    assert handle.certificate.subject.native["organization_name"] == "郑州市市场监督管理局"
    signature = handle.signer.sign(b"approval")
    verify(
        handle.certificate.public_key,
        b"approval",
        signature,
        handle.signer.key_algorithm.default_scheme,
    )
    text = openssl(
        "x509", "-noout", "-text", "-in", write_pem(tmp_path, "o.pem", handle.certificate)
    )
    assert (
        POLICY_PERSON_OFFICIAL in text.stdout
        and "Digital Signature, Non Repudiation" in text.stdout
    )
    assert f"serialNumber={person.id_hash}" in text.stdout.replace(" = ", "=")
    _check_chain(tmp_path, handle)

    # Another person's token for the same account (a different ID number): refused.
    other = verify_id_token(context, provider.token(id_number="41010519900307123X"), actor=ACTOR)
    with pytest.raises(Forbidden, match="ID number differs"):
        persons.person_signer(context, other, actor=ACTOR)
    # An identity a caller made up, e.g. from an API key's request: never used as a token.
    with pytest.raises(Forbidden, match="not from a verified token"):
        persons.person_signer(context, replace(person, token_id="made-up"), actor=ACTOR)
    # A token checked too long ago is no longer fresh.
    with context.database.session() as session:
        provider_id = identity.get_provider(session, "ywtb").id
        use = session.get_one(IdentityTokenUse, (provider_id, person.token_id))
        use.used_at = utcnow() - persons.FRESHNESS - timedelta(seconds=1)
    with pytest.raises(Forbidden, match="no longer fresh"):
        persons.person_signer(context, person, actor=ACTOR)

    # Revocation: the certificate shows in the personal CA's CRL, and the key is locked.
    revoked = sealctl(
        "person", "revoke", str(enrolled["id"]), "--reason", "affiliation_changed", "--json"
    )
    assert revoked.exit_code == 0, revoked.stderr
    assert json.loads(revoked.stdout)["certificate"]["status"] == "revoked"
    crl_file = context.settings.ca_dir / f"{hierarchy}-person.crl"
    crl_text = openssl("crl", "-noout", "-text", "-in", crl_file).stdout
    assert enrolled["certificate"]["serial_hex"].upper() in crl_text.replace(":", "").upper()
    assert "Affiliation Changed" in crl_text
    fresh = verify_id_token(context, provider.token(), actor=ACTOR)
    with pytest.raises(Forbidden, match="revoked"):
        persons.person_signer(context, fresh, actor=ACTOR)

    listed = sealctl("person", "list", "--json")
    shown = sealctl("person", "show", str(enrolled["id"]))
    for result in (listed, shown, sealctl("person", "list")):
        assert result.exit_code == 0 and ID_NUMBER not in result.stdout
    assert "4101**********1213" in shown.stdout
    with context.database.session(read_only=True) as session:
        actions = {e.action for e in session.scalars(select(AuditEntry))}
    assert {
        "idp.add",
        "person.enroll",
        "person.key_use",
        "person.refused",
        "person.revoke",
    } <= actions
    _assert_no_id_number(_everything_stored(context))


def test_a_department_api_key_alone_cannot_reach_a_persons_key(
    context: ServiceContext, provider: TestProvider
) -> None:
    person_id = persons.enroll(
        context, provider="ywtb", subject="u-1001", name="张三丰", id_number=ID_NUMBER,
        hierarchy="rsa", actor=ACTOR,
    )  # fmt: skip
    with context.database.session() as session:
        _, token = apikeys.create_api_key(
            session, name="审批系统", scopes={"sign"}, department="ZZ-D26", actor=ACTOR
        )
        principal = apikeys.authenticate(session, token)
        # All a department's system knows of the official — even their exact ID hash.
        forged = PersonIdentity(
            provider="ywtb", subject="u-1001", name="张三丰", id_type="id_card",
            id_hash=identity.id_number_hash(session, ID_NUMBER), id_masked="",
            token_id=principal.key_id, expires_at=utcnow() + timedelta(minutes=5),
        )  # fmt: skip
    with pytest.raises(Forbidden, match="not from a verified token"):
        persons.person_signer(context, forged, actor=principal.actor)
    with context.database.session(read_only=True) as session:
        refused = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "person.refused")
        ).one()
        assert refused.actor == principal.actor
        assert persons.get_person(session, person_id).status == "active"


def test_revision_0006_downgrades_and_upgrades(database: Database) -> None:
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0005")
    assert database.current_revision() == "0005"
    database.migrate()
    assert database.current_revision() == database.head_revision()


def test_the_personal_cas_certificate_and_crl_are_served_where_certificates_point(
    sqlite_seal_context: ServiceContext, provider: TestProvider
) -> None:
    context = sqlite_seal_context
    with context.database.session() as session:
        identity.add_provider(
            session, name="ywtb", issuer=provider.issuer, audience=AUDIENCE,
            jwks=str(provider.jwks_file), actor=ACTOR,
        )  # fmt: skip
    person_id = persons.enroll(
        context, provider="ywtb", subject="u-1", name="李四", id_number=ID_NUMBER,
        hierarchy="sm2", actor=ACTOR,
    )  # fmt: skip
    revoked = persons.revoke(context, person_id, reason="key_compromise", actor=ACTOR)
    serial = int(revoked["certificate"]["serial"])
    with TestClient(create_app(context.settings)) as client:
        certificate = client.get("/pki/sm2/person.crt")
        crl = client.get("/pki/sm2/person.crl")
        missing = client.get("/pki/sm2/nobody.crl")
    assert certificate.status_code == 200 and crl.status_code == 200
    assert (
        "电子签名个人证书签发CA"
        in x509.Certificate.load(certificate.content).subject.human_friendly
    )
    listed = CertificateList.load(crl.content)["tbs_cert_list"]["revoked_certificates"]
    assert [entry["user_certificate"].native for entry in listed] == [serial]
    assert missing.status_code == 422 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_idp_commands_print_json_refuse_bad_input_in_one_line_and_are_audited(
    sqlite_seal_context: ServiceContext,
    sealctl: Callable[..., Result],
    provider: TestProvider,
    tmp_path: Path,
) -> None:
    add = ("idp", "add", "ywtb", "--issuer", provider.issuer, "--audience", AUDIENCE)
    added = sealctl(*add, "--jwks", str(provider.jwks_file), "--claim", "role=post", "--json")
    assert added.exit_code == 0, added.stderr
    shown = json.loads(added.stdout)
    assert shown["jwks_kids"] == ["rsa-1", "ec-1", "sm2-1"] and shown["claims"]["role"] == "post"
    listed = json.loads(sealctl("idp", "list", "--json").stdout)
    assert [p["name"] for p in listed] == ["ywtb"]
    assert "ywtb" in sealctl("idp", "list").stdout
    (tmp_path / "bad.json").write_text("[]")
    for args, message in (
        (
            (
                "idp",
                "add",
                "other",
                "--issuer",
                "x",
                "--audience",
                "a",
                "--jwks",
                str(tmp_path / "bad.json"),
            ),
            "not a usable",
        ),
        ((*add, "--jwks", str(provider.jwks_file)), "already exists"),
        ((*add[:2], "Bad Name", *add[3:], "--jwks", str(provider.jwks_file)), "provider name"),
        ((*add, "--jwks", str(provider.jwks_file), "--claim", "name"), "OURS=THEIRS"),
        (("idp", "remove", "nobody"), "no identity provider named"),
    ):
        result = sealctl(*args)
        assert result.exit_code == 1 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2
    removed = sealctl("idp", "remove", "ywtb", "--json")
    assert removed.exit_code == 0 and json.loads(removed.stdout) == {"removed": "ywtb"}
    with sqlite_seal_context.database.session(read_only=True) as session:
        actions = [
            e.action for e in session.scalars(select(AuditEntry)) if e.action.startswith("idp.")
        ]
    assert actions == ["idp.add", "idp.remove"]


def test_an_officials_status_is_answered_by_the_personal_cas_ocsp_responder(
    context: ServiceContext, tmp_path: Path
) -> None:
    person_id = persons.enroll(
        context, provider="ywtb", subject="u-2", name="王五", id_number=ID_NUMBER,
        hierarchy="rsa", actor=ACTOR,
    )  # fmt: skip
    with context.database.session(read_only=True) as session:
        row = persons.get_person(session, person_id).certificate
        leaf = x509.Certificate.load(row.der)
        person_ca = x509.Certificate.load(
            session.get_one(Certificate, row.issuer_certificate_id).der
        )
        root = context.ca.ca_set(session, "rsa").root
    assert leaf.ocsp_urls == [f"{context.settings.base_url}/pki/rsa/person-ocsp"]
    files = {
        "leaf": write_pem(tmp_path, "leaf.pem", leaf),
        "ca": write_pem(tmp_path, "ca.pem", person_ca),
        "root": write_pem(tmp_path, "root.pem", x509.Certificate.load(root.der)),
    }

    def ask(client: TestClient) -> str:
        answer = client.post(
            "/pki/rsa/person-ocsp",
            content=build_request(leaf, person_ca),
            headers={"Content-Type": "application/ocsp-request"},
        )
        assert answer.status_code == 200
        (tmp_path / "resp.der").write_bytes(answer.content)
        checked = openssl(
            "ocsp", "-no_nonce", "-respin", tmp_path / "resp.der", "-issuer", files["ca"], "-cert",
            files["leaf"], "-CAfile", files["root"], "-verify_other", files["ca"],
        )  # fmt: skip
        assert "Response verify OK" in checked.stderr, checked.stderr
        return checked.stdout

    with TestClient(create_app(context.settings)) as client:
        assert "leaf.pem: good" in ask(client)
        persons.revoke(context, person_id, reason="key_compromise", actor=ACTOR)
        revoked = ask(client)
    assert "leaf.pem: revoked" in revoked and "Reason: keyCompromise" in revoked


def test_init_makes_the_personal_cas_and_the_id_salt_and_ca_commands_show_them(
    sealctl: Callable[..., Result], settings
) -> None:
    created = sealctl("init", "--dev", "--json")
    assert created.exit_code == 0, created.stderr
    profiles = [(c["profile"], c["hierarchy"]) for c in json.loads(created.stdout)["certificates"]]
    assert ("person_ca", "rsa") in profiles and ("person_ca", "sm2") in profiles
    shown = json.loads(sealctl("ca", "show", "--json").stdout)["certificates"]
    assert [c["hierarchy"] for c in shown if c["profile"] == "person_ca"] == ["rsa", "sm2"]
    published = json.loads(sealctl("crl", "publish", "-H", "sm2", "--json").stdout)
    assert [c["issuer"] for c in published["crls"]] == ["root_ca", "issuing_ca", "person_ca"]
    assert any(f.endswith("sm2-person.crl") for f in published["files"])
    refused = sealctl("ca", "issue-cert", "--profile", "person", "--cn", "张三")
    assert refused.exit_code == 1 and "person enroll" in refused.stderr
    context = ServiceContext(settings)
    try:
        with context.database.session(read_only=True) as session:
            salt = session.get_one(InstallationSecret, identity.SALT_NAME).value
    finally:
        context.close()
    assert len(salt) == 32


def test_a_data_directory_from_before_persons_gets_its_personal_ca_on_first_use(
    context: ServiceContext, provider: TestProvider
) -> None:
    with context.database.session() as session:
        session.execute(
            update(Certificate)
            .where(Certificate.profile == Profile.PERSON_CA.value, Certificate.hierarchy == "sm2")
            .values(status="superseded")  # as if there were none: current() finds nothing
        )
    person = verify_id_token(context, provider.token(), actor=ACTOR)
    with persons.event_signer(context, person, hierarchy="sm2", actor=ACTOR) as handle:
        pass
    with context.database.session(read_only=True) as session:
        new_ca = context.ca.current(session, "sm2", Profile.PERSON_CA)
        assert context.ca.latest_crl(session, new_ca) is not None
    assert handle.chain[0].dump() == new_ca.der


@pytest.mark.parametrize("hierarchy", ["rsa", "sm2"])
def test_the_path_validation_engine_accepts_an_official_then_sees_the_revocation(
    context: ServiceContext, hierarchy: str
) -> None:
    """pyhanko-certvalidator (through pki.chain, with SM2 signatures) judges persons' paths:
    nonRepudiation present, every link revocation-checked with our CRLs."""
    person_id = persons.enroll(
        context, provider="ywtb", subject="u-3", name="赵六", id_number=ID_NUMBER,
        hierarchy=hierarchy, actor=ACTOR,
    )  # fmt: skip

    def validate() -> None:
        with context.database.session(read_only=True) as session:
            row = persons.get_person(session, person_id).certificate
            person_ca = session.get_one(Certificate, row.issuer_certificate_id)
            root = context.ca.ca_set(session, hierarchy).root
            crls = [
                CertificateList.load(context.ca.latest_crl(session, ca).der)
                for ca in (person_ca, root)
            ]
        validate_path(
            x509.Certificate.load(row.der),
            [x509.Certificate.load(person_ca.der)],
            [x509.Certificate.load(root.der)],
            utcnow(),
            ("digital_signature", "non_repudiation"),
            crls=crls,
            check_revocation=True,
        )

    validate()
    persons.revoke(context, person_id, reason="key_compromise", actor=ACTOR)
    with pytest.raises(ChainError) as failed:
        validate()
    assert failed.value.reason is ChainFailure.REVOKED


def test_a_provider_rotates_its_keys_without_losing_its_officials(
    sqlite_seal_context: ServiceContext,
    sealctl: Callable[..., Result],
    provider: TestProvider,
    tmp_path: Path,
) -> None:
    add = ("idp", "add", "ywtb", "--issuer", provider.issuer, "--audience", AUDIENCE)
    assert sealctl(*add, "--jwks", str(provider.jwks_file)).exit_code == 0
    _enroll(sealctl)
    (tmp_path / "next").mkdir()
    rotated = TestProvider(tmp_path / "next")  # same issuer and kids, new keys
    assert sealctl("idp", "remove", "ywtb").exit_code == 1  # officials are enrolled
    changed = sealctl("idp", "set-jwks", "ywtb", "--jwks", str(rotated.jwks_file), "--json")
    assert changed.exit_code == 0, changed.stderr
    with pytest.raises(IdentityTokenRefused) as refused:
        verify_id_token(sqlite_seal_context, provider.token(), actor=ACTOR)
    assert refused.value.check is Check.SIGNATURE
    person = verify_id_token(sqlite_seal_context, rotated.token("ES256"), actor=ACTOR)
    assert persons.person_signer(sqlite_seal_context, person, actor=ACTOR).certificate
    with sqlite_seal_context.database.session(read_only=True) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "idp.set_jwks")).one()
    assert json.loads(entry.details)["after"]["jwks_kids"] == ["rsa-1", "ec-1", "sm2-1"]


def test_the_first_start_makes_the_personal_cas_and_the_id_salt(settings) -> None:
    context = ServiceContext(replace(settings, may_create=True))
    try:
        assert bootstrap.ensure_initialised(context).created
        with context.database.session(read_only=True) as session:
            assert len(session.get_one(InstallationSecret, identity.SALT_NAME).value) == 32
            for hierarchy in ("rsa", "sm2"):
                assert (
                    "（开发测试用）"
                    in context.ca.current(session, hierarchy, Profile.PERSON_CA).subject
                )
    finally:
        context.close()
    assert (settings.ca_dir / "sm2-person.crl").exists()
