"""The licence library on SQLite and PostgreSQL: collecting with fetched revocation data,
OFD licences, one-time 亮证 codes under concurrency, crash leftovers, and ``sealctl library``.

The API flows are in ``test_library_api.py``; here the domain runs on each backend (the
``seal_context`` fixture: real CAs and departments), with real foreign PDFs of the
independent test PKI (:mod:`verify_corpus`) and an OFD sealed with a real SM2 seal.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from datetime import UTC, datetime

import pytest
from helpers.ofd_documents import unsigned_ofd
from helpers.pdf_fixtures import chinese_pdf
from helpers.pki_fixtures import build_hierarchy, write_pem
from helpers.verify_corpus import TestServices, services_for
from sqlalchemy import select

from sealsvc import seals
from sealsvc.apikeys import Principal
from sealsvc.context import ServiceContext
from sealsvc.errors import Conflict, Forbidden
from sealsvc.library import collect, grants, sharing, showcodes, trust
from sealsvc.library.changes import changes, record_expiries
from sealsvc.library.collect import CollectRefused
from sealsvc.library.entries import entry_file
from sealsvc.licences import annul_licence, issue_licence, load_template, reissue_licence
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.licences.pipeline import reconcile_licence_files
from sealsvc.models import CollectedLicence, StoredFile
from sealsvc.ofd_sealing import seal_ofd
from sealsvc.pades import Level, Placement
from sealsvc.trust_services import TrustServices

pytest_plugins = ("helpers.seal_fixtures",)

ACTOR = "test:library"
ISSUER = "ZZ-D14"
ISSUER_CODE = "11410100EXAMPL143L"
TYPE = ISSUER_CODE + "901"
USER = "ZZ-D20"
COMPANY = "91410100MA9GH7K2XR"
PURPOSE = sharing.Purpose.of("开办企业核验", "11410100KB-0001")
DETAILS = {"client": "192.0.2.7", "api_key": "0123456789abcdef"}


def _principal(department: str | None, *scopes: str) -> Principal:
    return Principal("0123456789abcdef", "test", department, frozenset(scopes or {"library"}), 600)


ADMIN = _principal(None, "admin")


def _metadata(number: str, version: int = 1, valid_until: str = "长期") -> dict[str, str]:
    identifier = LicenceIdentifier.for_licence(
        type_code=TYPE, issuer_code=ISSUER_CODE, number=number, version=version
    )
    return {
        "name": "建筑业企业资质证书",
        "identifier": str(identifier),
        "number": number,
        "issuer_name": "郑州市城乡建设局",
        "issue_date": "2025-01-02",
        "holder_name": "郑州中原智链信息科技有限公司",
        "holder_code": COMPANY,
        "valid_from": "2025-01-02",
        "valid_until": valid_until,
    }


def _collect(context: ServiceContext, data: bytes, number: str, **options):
    return collect.collect(
        context,
        _principal(ISSUER),
        data,
        is_ofd=options.pop("is_ofd", False),
        metadata=_metadata(number, options.pop("version", 1), options.pop("valid_until", "长期")),
        details=DETAILS,
        **options,
    )


@pytest.fixture
def library(seal_context: ServiceContext) -> ServiceContext:
    """Each backend, the 深圳 RSA test root trusted, ``USER`` granted the type."""
    with seal_context.database.session() as session:
        trust.add_roots(session, services_for("rsa").hierarchy.root.dump(), actor=ACTOR)
        grants.grant(session, USER, TYPE, actor=ACTOR)
    return seal_context


def test_a_b_t_licence_is_collected_with_fetched_revocation_data(library: ServiceContext):
    """B-T carries no revocation data: the library asks the issuer PKI's OCSP responder."""
    services = services_for("rsa")
    pdf = services.seal(chinese_pdf(1), Level.B_T)
    asked: list[str] = []

    def fetch(url: str, request: bytes | None) -> bytes:
        asked.append(url)
        return services.fetch(url, request)

    entry = _collect(library, pdf, "JZ2025-0001", fetcher=fetch)
    assert entry.status == "valid" and asked
    found = sharing.lookup(library, _principal(USER), holder=COMPANY, type_code=TYPE,
                           purpose=PURPOSE, details=DETAILS)  # fmt: skip
    assert [e.identifier for e in found] == [entry.identifier]


def test_a_licence_whose_seal_was_revoked_is_refused_with_the_report(library: ServiceContext):
    services = TestServices(build_hierarchy("rsa"))  # its own status table
    pdf = services.seal(chinese_pdf(1), Level.B_T)
    services.revoke(services.hierarchy.seal, services.hierarchy.not_before)
    with pytest.raises(CollectRefused) as refused:
        _collect(library, pdf, "JZ2025-0002", fetcher=services.fetch)
    report = refused.value.problem_extensions["report"]
    assert report["verdict"] != "TOTAL_PASSED"
    assert report["signatures"][0]["revocation"]["status"] == "revoked", report
    with library.database.session(read_only=True) as session:
        assert session.scalar(select(CollectedLicence.id)) is None


def test_an_ofd_licence_sealed_with_sm2_is_collected(library: ServiceContext) -> None:
    """A GB/T 38540 seal on an OFD: verified through the SES layers against roots the
    admin added (here our own SM2 root and issuing CA, as another city's would be)."""
    with library.database.session() as session:
        ca_set = library.ca.ca_set(session, "sm2")
        for certificate in (ca_set.root, ca_set.issuing):
            trust.add_roots(session, certificate.der, actor=ACTOR)
    code = seals.issue(library, department=ISSUER, kind="公章", algorithm="sm2", actor=ACTOR).code
    sealed = seal_ofd(
        library, unsigned_ofd(1).to_bytes(), code, Placement(), timestamp=True, actor=ACTOR
    ).ofd
    fetcher = TrustServices(library).local_fetcher()
    entry = _collect(library, sealed, "JZ2025-0003", is_ofd=True, fetcher=fetcher)
    assert (entry.format, entry.status) == ("ofd", "valid")
    _, document = sharing.licence_file(library, _principal(USER), entry.identifier,
                                       purpose=PURPOSE, details=DETAILS)  # fmt: skip
    assert document == sealed
    with pytest.raises(CollectRefused):  # without the revocation answer: not TOTAL_PASSED
        _collect(library, sealed, "JZ2025-0004", is_ofd=True, fetcher=_unreachable)


def _unreachable(url: str, request: bytes | None) -> bytes:
    raise ConnectionError(f"{url} unreachable")


def _stored_files(library: ServiceContext) -> list[str]:
    """The licence files the backend holds: rows of ``stored_files`` on a shared database,
    else the names in ``licences/`` (temporaries included)."""
    if library.database.is_shared:
        with library.database.session(read_only=True) as session:
            return sorted(session.scalars(select(StoredFile.name)))
    return sorted(p.name for p in (library.settings.data_dir / "licences").iterdir())


def test_a_refused_duplicate_leaves_no_file(library: ServiceContext) -> None:
    pdf = services_for("rsa").seal(chinese_pdf(1), Level.B_LT)
    entry = _collect(library, pdf, "JZ2025-0005")
    files = _stored_files(library)
    assert len(files) == 1
    with pytest.raises(Conflict):
        _collect(library, pdf, "JZ2025-0005")
    assert _stored_files(library) == files
    assert entry_file(library, entry) == pdf


def test_a_crash_leftover_is_finished(library: ServiceContext) -> None:
    """A crash after the commit, before the rename, leaves the file under its temporary
    name (the single-node layout; on a shared database the file commits with its row)."""
    if library.database.is_shared:
        pytest.skip("no temporary files on a shared database: the row is the file")
    pdf = services_for("rsa").seal(chinese_pdf(1), Level.B_LT)
    entry = _collect(library, pdf, "JZ2025-0005")
    directory = library.settings.data_dir / "licences"
    with library.database.session(read_only=True) as session:
        name = session.scalar(
            select(CollectedLicence.file_name).where(
                CollectedLicence.identifier == entry.identifier
            )
        )
    final = directory / name
    leftover = directory / f".{name}.crash.tmp"
    os.replace(final, leftover)
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    finished, removed = reconcile_licence_files(library)
    assert (finished, removed) == ([name], [])
    assert hashlib.sha256(final.read_bytes()).hexdigest() == hashlib.sha256(pdf).hexdigest()


def test_one_licence_pushed_twice_at_once_is_stored_once(library: ServiceContext) -> None:
    services = services_for("rsa")
    files = [services.seal(chinese_pdf(1), Level.B_LT) for _ in range(2)]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def push(pdf: bytes) -> None:
        barrier.wait()
        try:
            _collect(library, pdf, "JZ2025-0009")
            outcomes.append("stored")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=push, args=(pdf,)) for pdf in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "stored"]
    with library.database.session(read_only=True) as session:
        (name,) = session.scalars(
            select(CollectedLicence.file_name).where(CollectedLicence.number == "JZ2025-0009")
        )
    assert _stored_files(library) == [name]  # the loser left no file


def test_a_show_code_is_used_once_even_by_two_clerks_at_once(library: ServiceContext) -> None:
    entry = _collect(library, services_for("rsa").seal(chinese_pdf(1), Level.B_LT), "JZ2025-0006")
    issued = showcodes.issue_code(library, _principal(USER), entry.identifier, holder=COMPANY,
                                  details=DETAILS)  # fmt: skip
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def clerk() -> None:
        barrier.wait()
        try:
            showcodes.show(library, holder=COMPANY, code=issued.code, with_file=False,
                           client="192.0.2.9")  # fmt: skip
            outcomes.append("shown")
        except Forbidden:
            outcomes.append("refused")

    threads = [threading.Thread(target=clerk) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "shown"]


def test_sealctl_library_trust_grants_and_usage(library: ServiceContext, sealctl, tmp_path):
    root = write_pem(tmp_path, "ecdsa-root", build_hierarchy("ecdsa").root)
    added = sealctl("library", "trust", "add", str(root), "--json")
    assert added.exit_code == 0, added.output
    sha256 = json.loads(added.stdout)[0]["sha256"]
    listed = json.loads(sealctl("library", "trust", "list", "--json").stdout)
    assert sha256 in {r["sha256"] for r in listed} and len(listed) == 2
    leaf = write_pem(tmp_path, "leaf", build_hierarchy("ecdsa").seal)
    not_ca = sealctl("library", "trust", "add", str(leaf))
    assert not_ca.exit_code == 1 and "not a CA certificate" in not_ca.output
    assert sealctl("library", "trust", "remove", sha256).exit_code == 0
    assert len(json.loads(sealctl("library", "trust", "list", "--json").stdout)) == 1

    assert sealctl("library", "grant", "ZZ-D26", TYPE).exit_code == 0
    shown = json.loads(sealctl("library", "grants", "--json").stdout)
    assert {(g["department"], g["type_code"]) for g in shown} == {(USER, TYPE), ("ZZ-D26", TYPE)}
    assert sealctl("library", "revoke", "ZZ-D26", TYPE).exit_code == 0
    assert sealctl("library", "revoke", "ZZ-D26", TYPE).exit_code == 1
    bad = sealctl("library", "grant", USER, "NOT-A-TYPE")
    assert bad.exit_code == 1 and "licence type code" in bad.output

    entry = _collect(library, services_for("rsa").seal(chinese_pdf(1), Level.B_LT), "JZ2025-0007")
    for _ in range(3):
        sharing.check(library, _principal(USER), identifier=entry.identifier, details=DETAILS)
    sharing.lookup(library, _principal(USER), holder=COMPANY, type_code=TYPE, purpose=PURPOSE,
                   details=DETAILS)  # fmt: skip
    with pytest.raises(Forbidden):
        sharing.lookup(library, _principal("ZZ-D26"), holder=COMPANY, type_code=TYPE,
                       purpose=PURPOSE, details=DETAILS)  # fmt: skip
    usage = sealctl("library", "usage", "--json")
    assert usage.exit_code == 0, usage.output
    rows = {(r["department"], r["purpose"]): r for r in json.loads(usage.stdout)}
    assert rows[(USER, PURPOSE.text)]["lookups"] == 1
    assert rows[(USER, "")]["checks"] == 3
    assert rows[("ZZ-D26", PURPOSE.text)]["refused"] == 1
    table = sealctl("library", "usage", "--dept", USER)
    assert table.exit_code == 0 and PURPOSE.text in table.output
    assert "ZZ-D26" not in table.output


def test_with_no_root_configured_nothing_is_collected(seal_context: ServiceContext) -> None:
    with seal_context.database.session(read_only=True) as session:
        assert trust.library_anchors(session).certificates == ()
    with pytest.raises(CollectRefused) as refused:
        _collect(seal_context, services_for("rsa").seal(chinese_pdf(1), Level.B_LT), "JZ2025-0008")
    assert refused.value.report.sub_indication.name == "NO_CERTIFICATE_CHAIN_FOUND"
    assert str(refused.value).endswith("INDETERMINATE (NO_CERTIFICATE_CHAIN_FOUND)")


def test_a_reissued_licence_of_ours_is_superseded_in_every_view_and_the_feed(
    library: ServiceContext,
) -> None:
    """Licences sealsvc issues are in the library without a copy: 变更 and 吊销 in the
    licence registry are what check, lookup and the feed say next."""
    template = load_template("business_licence")
    business = template.spec.licence_type.code
    with library.database.session() as session:
        grants.grant(session, USER, business, actor=ACTOR)
    code = seals.issue(library, department="ZZ-D26", kind="公章", algorithm="rsa", actor=ACTOR).code
    start = changes_since(library, 0)["next"]
    first = issue_licence(library, template, template.example, [code], actor=ACTOR, level=Level.B_B)
    second = reissue_licence(library, first.number, {"registered_capital": "8000"}, actor=ACTOR,
                             reason="增资", level=Level.B_B)  # fmt: skip
    user = _principal(USER)
    old = sharing.check(library, user, identifier=first.identifier, details=DETAILS)
    assert (old.status, old.status_reason) == ("superseded", "增资")
    (found,) = sharing.lookup(library, user, holder=template.example["uscc"], type_code=business,
                              purpose=PURPOSE, details=DETAILS)  # fmt: skip
    assert (found.identifier, found.version, found.status) == (second.identifier, 2, "valid")
    annul_licence(library, first.number, "歇业", kind="cancelled", actor=ACTOR)
    by_number = sharing.check(library, user, number=first.number,
                              holder=template.example["uscc"], details=DETAILS)  # fmt: skip
    assert (by_number.status, by_number.annul_kind) == ("annulled", "cancelled")
    feed = changes_since(library, start)["changes"]
    assert [(c["event"], c["identifier"], c["superseded"]) for c in feed] == [
        ("issued", first.identifier, []),
        ("reissued", second.identifier, [first.identifier]),
        ("annulled", second.identifier, []),
    ]


def changes_since(context: ServiceContext, since: int) -> dict:
    with context.database.session(read_only=True) as session:
        return changes(session, _principal(USER), since).as_dict()


def test_expiry_is_recorded_once_for_the_feed(library: ServiceContext, sealctl) -> None:
    services = services_for("rsa")
    ran_out = _collect(library, services.seal(chinese_pdf(1), Level.B_LT), "JZ2025-0010",
                       valid_until="2025-06-30")  # fmt: skip
    later = _collect(library, services.seal(chinese_pdf(1), Level.B_LT), "JZ2025-0011",
                     valid_until="2030-12-31")  # fmt: skip
    assert (ran_out.status, later.status) == ("expired", "valid")
    start = changes_since(library, 0)["next"]
    recorded = sealctl("library", "expire", "--json")
    assert recorded.exit_code == 0, recorded.output
    assert json.loads(recorded.stdout) == [ran_out.identifier]
    assert json.loads(sealctl("library", "expire", "--json").stdout) == []  # once only
    # in 2031 the other one has run out too (the clock is the caller's: time travel)
    in_2031 = datetime(2031, 1, 2, tzinfo=UTC)
    assert record_expiries(library, actor=ACTOR, now=in_2031) == [later.identifier]
    feed = changes_since(library, start)["changes"]
    assert [(c["event"], c["identifier"]) for c in feed] == [
        ("expired", ran_out.identifier),
        ("expired", later.identifier),
    ]
