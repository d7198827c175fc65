"""Many concurrent sign requests while one seal is rotated and another revoked.

A real ``sealctl serve --workers 2`` (two processes) on SQLite and on PostgreSQL receives
:data:`THREADS` × :data:`PER_THREAD` concurrent ``POST /v1/seals/{code}/sign`` requests
(B-T), alternating between seal R and seal X.  Meanwhile, from another process's
connection (this test's own :class:`ServiceContext`), R is rotated :data:`ROTATIONS` times
and X is revoked, each at a fixed point of the stream.  Then:

* every request on R succeeded and every request on X succeeded or was refused (409);
* every returned PDF validates in pyHanko with the certificate it was sealed with, which
  is the one its ``seal.use`` entry names (R's rotated-away certificates are superseded,
  not revoked, and still validate with the newest CRLs; X's documents validate at their
  sealing time);
* no ``seal.use`` entry of X follows its ``seal.revoke`` entry, and every document of X
  that was handed out has its entry before it;
* certificate serials in the database and time-stamp serials (TSTInfo) across all returned
  PDFs are unique; the audit chain is intact.

Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from helpers.pdf_fixtures import chinese_pdf
from helpers.reliability_helpers import (
    RsaTrust,
    rsa_trust,
    signer_serial,
    signing_time,
    timestamp_serials,
    validate_rsa_seal,
)
from helpers.server import ServerProcess
from sqlalchemy import select

from sealsvc import audit, seals
from sealsvc.models import Certificate, CertificateStatus

pytestmark = pytest.mark.slow

THREADS = 8
PER_THREAD = 10
ROTATIONS = 3
ROTATE_AFTER = (10, 35, 60)
"""Completed requests after which R is rotated (one threshold per rotation)."""
REVOKE_AFTER = 25
"""Completed requests after which X is revoked."""
ACTOR = "test:concurrency"


@dataclass(frozen=True)
class Outcome:
    code: str
    status: int
    pdf: bytes
    audit_seq: int | None


class Progress:
    """Counts finished requests; lets the lifecycle thread wait for a threshold."""

    def __init__(self) -> None:
        self._done = 0
        self._condition = threading.Condition()

    def finished_one(self) -> None:
        with self._condition:
            self._done += 1
            self._condition.notify_all()

    def wait_for(self, count: int) -> None:
        with self._condition:
            self._condition.wait_for(lambda: self._done >= count, timeout=120)


def _signer(server: ServerProcess, codes: tuple[str, str], offset: int, progress, out) -> None:
    with server.client(timeout=120) as client:
        for index in range(PER_THREAD):
            code = codes[(offset + index) % 2]
            try:
                response = client.post(
                    f"/v1/seals/{code}/sign",
                    content=chinese_pdf(1),
                    params={"level": "B-T", "invisible": "true"},
                    headers={"Content-Type": "application/pdf"},
                )
                seq = response.headers.get("X-Audit-Seq")
                out.append(Outcome(code, response.status_code, response.content, seq and int(seq)))
            except httpx.HTTPError as exc:  # recorded, and fails the test below
                out.append(Outcome(code, -1, repr(exc).encode(), None))
            progress.finished_one()


def _lifecycle(server: ServerProcess, rotated: str, revoked: str, progress, log: list) -> None:
    """Rotate R at each :data:`ROTATE_AFTER`, revoke X at :data:`REVOKE_AFTER`."""
    steps = sorted([(n, "rotate") for n in ROTATE_AFTER] + [(REVOKE_AFTER, "revoke")])
    context = server.context()
    try:
        for threshold, action in steps:
            progress.wait_for(threshold)
            try:
                if action == "rotate":
                    view = seals.rotate(context, rotated, actor=ACTOR)
                    log.append(("rotate", view.current_certificate.serial))
                else:
                    seals.revoke(context, revoked, reason="key_compromise", actor=ACTOR)
                    log.append(("revoke", revoked))
            except Exception as exc:  # recorded, and fails the test below
                log.append(("error", f"{action}: {exc!r}"))
    finally:
        context.close()


def test_sign_while_rotating_one_seal_and_revoking_another(
    database_url: str, tmp_path: Path
) -> None:
    backend = database_url.split(":", 1)[0]
    server = ServerProcess(tmp_path / "data", database_url=database_url, workers=2)
    server.start()
    try:
        rotated = server.demo_seal("ZZ-FTZ", "rsa").code
        revoked = server.demo_seal("ZZ-GOV", "rsa").code
        context = server.context()
        try:
            trust_before = rsa_trust(context)  # CRLs from before any lifecycle change
        finally:
            context.close()
        progress, outcomes, log = Progress(), [], []
        threads = [
            threading.Thread(
                target=_signer, args=(server, (rotated, revoked), i, progress, outcomes)
            )
            for i in range(THREADS)
        ]
        threads.append(
            threading.Thread(target=_lifecycle, args=(server, rotated, revoked, progress, log))
        )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _check(server, backend, rotated, revoked, outcomes, log, trust_before)
    finally:
        server.stop()


def _check(
    server: ServerProcess,
    backend: str,
    rotated: str,
    revoked: str,
    outcomes: list[Outcome],
    log: list,
    trust_before: RsaTrust,
) -> None:
    statuses = Counter(((o.code == rotated and "R") or "X", o.status) for o in outcomes)
    figures = (
        f"[concurrency {backend}] {len(outcomes)} requests ({THREADS} threads × {PER_THREAD}, "
        f"2 workers), statuses {dict(sorted(statuses.items()))}, lifecycle {log}"
    )
    print(f"\n{figures}")
    assert len(outcomes) == THREADS * PER_THREAD, figures
    bad = [o for o in outcomes if o.status != 200 and not (o.code == revoked and o.status == 409)]
    assert not bad, f"{figures}: {[(o.code, o.status, o.pdf[:300]) for o in bad]}"
    assert [a for a, _ in log].count("rotate") == ROTATIONS and ("revoke", revoked) in log, figures

    context = server.context()
    try:
        with context.database.session(read_only=True) as session:
            report = audit.verify(session)
            uses = {e.seq: e for e in audit.query(session, action="seal.use")}
            (revocation,) = audit.query(session, seal_code=revoked, action="seal.revoke")
            certificates = session.scalars(select(Certificate)).all()
        trust = rsa_trust(context)
    finally:
        context.close()
    assert report.intact, report.as_dict()

    late = [s for s, e in uses.items() if e.seal_code == revoked and s > revocation.seq]
    assert not late, f"{figures}: seal.use of revoked {revoked} after seq {revocation.seq}: {late}"
    serial_counts = Counter((c.hierarchy, c.serial) for c in certificates)
    assert max(serial_counts.values()) == 1, f"duplicate certificate serials: {serial_counts}"
    status_of = {c.serial: c.status for c in certificates}

    ts_serials: list[int] = []
    used_serials: dict[str, set[str]] = {rotated: set(), revoked: set()}
    for outcome in (o for o in outcomes if o.status == 200):
        entry = uses[outcome.audit_seq]
        assert entry.seal_code == outcome.code
        details = json.loads(entry.details)
        serial = details["certificate_serial"]
        assert str(signer_serial(outcome.pdf)) == serial, "signed with another certificate"
        used_serials[outcome.code].add(serial)
        if outcome.code == rotated:
            assert status_of[serial] in (CertificateStatus.VALID, CertificateStatus.SUPERSEDED)
            problem = validate_rsa_seal(outcome.pdf, trust)
        else:
            assert entry.seq < revocation.seq
            # Time-stamped before the revocation time the CRL states (whole seconds), and
            # valid then: a document handed out is never "sealed after the revocation".
            revoked_at = trust.revocation_time(int(serial))
            assert revoked_at is not None, f"{serial} is not on the newest CRL"
            sealed_at = signing_time(outcome.pdf)
            assert sealed_at < revoked_at, (
                f"{figures}: #{outcome.audit_seq} sealed at {sealed_at}, the CRL says the "
                f"certificate was revoked at {revoked_at}"
            )
            problem = validate_rsa_seal(outcome.pdf, trust_before, at_signing_time=True)
        assert problem is None, f"{outcome.code} #{outcome.audit_seq}: {problem}"
        ts_serials += timestamp_serials(outcome.pdf)
    duplicates = [s for s, n in Counter(ts_serials).items() if n > 1]
    assert not duplicates, f"duplicate time-stamp serials: {duplicates}"
    assert len(ts_serials) == sum(1 for o in outcomes if o.status == 200)
    print(
        f"[concurrency {backend}] {len(ts_serials)} PDFs validated, "
        f"{len(used_serials[rotated])} certificates of {rotated} used, "
        f"revocation at audit seq {revocation.seq}, {len(uses)} seal.use entries, "
        f"{report.entries} audit entries, chain intact"
    )
    # The rotations happened while requests were in flight: several certificates signed.
    assert len(used_serials[rotated]) >= 2, figures
