"""The hash-chained audit log: append, verify, tamper detection, concurrency, CLI."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from sealsvc import audit
from sealsvc.db import Database
from sealsvc.errors import InvalidInput
from sealsvc.models import AuditEntry, AuditHead, utcnow

DOC = hashlib.sha256(b"a document").hexdigest()


def _append_many(database: Database, count: int) -> None:
    with database.session() as session:
        for number in range(count):
            audit.append(
                session,
                action="seal.use" if number % 2 else "seal.issue",
                actor="test",
                seal_code=f"4101000000000{number % 3}",
                department_code="ZZ-D01",
                document_hash=DOC if number % 2 else None,
                details={"n": number, "名称": "郑州市", "flags": [True, None], "nested": {"a": 1}},
            )


def _verify(database: Database) -> audit.AuditReport:
    with database.session(read_only=True) as session:
        return audit.verify(session)


def _execute(database: Database, *statements: str) -> None:
    with database.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def _problems(report: audit.AuditReport) -> list[tuple[int, str]]:
    return [(problem.seq, problem.kind) for problem in report.problems]


def test_entries_form_a_chain_from_the_genesis_hash(database: Database) -> None:
    _append_many(database, 5)
    with database.session() as session:
        entries = audit.query(session)
        head = session.get(AuditHead, 1)
    assert [entry.seq for entry in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == audit.GENESIS_HASH
    for previous, entry in itertools.pairwise(entries):
        assert entry.prev_hash == previous.entry_hash
        assert entry.entry_hash == hashlib.sha256(audit.canonical_bytes(entry)).hexdigest()
    assert (head.seq, head.entry_hash) == (5, entries[-1].entry_hash)
    report = _verify(database)
    assert report.intact and report.entries == 5 and report.head_seq == 5


def test_canonical_encoding_is_sorted_compact_utf8(database: Database) -> None:
    with database.session() as session:
        entry = audit.append(session, action="dept.add", actor="t", details={"b": 1, "a": "郑州"})
        encoded = audit.canonical_bytes(entry).decode("utf-8")
    assert encoded.startswith('{"action":"dept.add","actor":"t","at":"')
    assert '"details":{"a":"郑州","b":1}' in encoded and " " not in encoded
    assert json.loads(encoded)["at"].endswith("Z")


def test_empty_log_verifies(database: Database) -> None:
    report = _verify(database)
    assert report.intact and report.entries == 0 and report.head_hash == audit.GENESIS_HASH


@pytest.mark.parametrize(
    ("details", "message"),
    [({"x": 0.1}, "float"), ({"x": {1: "a"}}, "keys must be strings"), ({"x": b"1"}, "bytes")],
)
def test_details_that_do_not_encode_one_way_are_refused(
    database: Database, details: dict, message: str
) -> None:
    with pytest.raises(TypeError, match=message), database.session() as session:
        audit.append(session, action="x.y", actor="t", details=details)


def test_document_hash_must_be_hex(database: Database) -> None:
    with pytest.raises(InvalidInput, match="hex digest"), database.session() as session:
        audit.append(session, action="seal.use", actor="t", document_hash="not-a-hash")
    with database.session() as session:
        entry = audit.append(session, action="seal.use", actor="t", document_hash=DOC.upper())
    assert entry.document_hash == DOC


def test_entry_of_a_rolled_back_change_disappears_and_seq_stays_gap_free(
    database: Database,
) -> None:
    _append_many(database, 2)
    with pytest.raises(RuntimeError), database.session() as session:
        audit.append(session, action="seal.revoke", actor="t")
        raise RuntimeError("change failed")
    _append_many(database, 1)
    with database.session() as session:
        assert [entry.seq for entry in audit.query(session)] == [1, 2, 3]
    assert _verify(database).intact


# --- tampering by direct SQL ----------------------------------------------------------------


def test_edited_entry_is_named(database: Database) -> None:
    _append_many(database, 5)
    _execute(database, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3")
    report = _verify(database)
    assert _problems(report) == [(3, "modified")]
    assert "entry 3" in report.problems[0].message


def test_edited_entry_with_recomputed_hash_is_named(database: Database) -> None:
    _append_many(database, 5)
    with database.session() as session:
        entry = session.get(AuditEntry, 2)
        entry.details = json.dumps({"n": 999})
        forged = audit.compute_hash(entry)
    _execute(
        database,
        f"UPDATE audit_entries SET details = '{{\"n\": 999}}', entry_hash = '{forged}' "
        "WHERE seq = 2",
    )
    assert _problems(_verify(database)) == [(2, "rewritten")]


def test_deleted_entry_is_named(database: Database) -> None:
    _append_many(database, 5)
    _execute(database, "DELETE FROM audit_entries WHERE seq = 3")
    report = _verify(database)
    assert _problems(report) == [(3, "missing")]
    assert "entry 3 is missing" in report.problems[0].message


def test_entries_cut_from_the_end_are_named(database: Database) -> None:
    _append_many(database, 5)
    _execute(database, "DELETE FROM audit_entries WHERE seq >= 4")
    report = _verify(database)
    assert _problems(report) == [(4, "missing")]
    assert "4..5" in report.problems[0].message


def test_inserted_entry_is_named(database: Database) -> None:
    _append_many(database, 3)
    with database.session() as session:
        # a well-formed entry, correctly chained, but not written through sealsvc
        forged = AuditEntry(
            seq=4,
            at=utcnow(),
            actor="mallory",
            action="seal.use",
            details="{}",
            prev_hash=session.get(AuditEntry, 3).entry_hash,
        )
        forged.entry_hash = audit.compute_hash(forged)
        session.add(forged)
    assert _problems(_verify(database)) == [(4, "unexpected")]


def test_entry_inserted_before_the_first_is_named(database: Database) -> None:
    _append_many(database, 2)
    _execute(
        database,
        "INSERT INTO audit_entries (seq, at, actor, action, details, prev_hash, entry_hash) "
        f"VALUES (0, CURRENT_TIMESTAMP, 'm', 'x', '{{}}', '{audit.GENESIS_HASH}', 'ab')",
    )
    assert _problems(_verify(database)) == [(0, "unexpected")]


def test_swapped_entries_are_named(database: Database) -> None:
    _append_many(database, 5)
    _execute(
        database,
        "UPDATE audit_entries SET seq = -2 WHERE seq = 2",
        "UPDATE audit_entries SET seq = 2 WHERE seq = 3",
        "UPDATE audit_entries SET seq = 3 WHERE seq = -2",
    )
    assert _problems(_verify(database)) == [(2, "modified"), (3, "modified")]


def test_details_that_are_no_longer_json_are_reported_not_crashing(database: Database) -> None:
    _append_many(database, 2)
    _execute(database, "UPDATE audit_entries SET details = 'not json' WHERE seq = 1")
    assert _problems(_verify(database)) == [(1, "modified")]


# --- concurrency ----------------------------------------------------------------------------


def test_concurrent_appends_keep_a_gap_free_valid_chain(database: Database) -> None:
    threads_count, per_thread = 6, 8
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def worker(number: int) -> None:
        try:
            start.wait()
            for item in range(per_thread):
                with database.session() as session:
                    audit.append(
                        session, action="seal.use", actor=f"t{number}", details={"i": item}
                    )
                if item == 3:  # a rolled-back append in between must not leave a gap
                    try:
                        with database.session() as session:
                            audit.append(session, action="seal.use", actor=f"t{number}")
                            raise LookupError
                    except LookupError:
                        pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with database.session() as session:
        seqs = list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        by_actor = session.execute(
            select(AuditEntry.actor, func.count()).group_by(AuditEntry.actor)
        ).all()
    assert seqs == list(range(1, threads_count * per_thread + 1))
    assert sorted(count for _, count in by_actor) == [per_thread] * threads_count
    assert _verify(database).intact


# --- query ----------------------------------------------------------------------------------


def test_query_filters(database: Database) -> None:
    before = utcnow() - timedelta(seconds=1)
    _append_many(database, 6)
    with database.session() as session:
        assert [e.seq for e in audit.query(session, seal_code="41010000000001")] == [2, 5]
        assert len(audit.query(session, department_code="ZZ-D01")) == 6
        assert len(audit.query(session, department_code="ZZ-D02")) == 0
        assert [e.seq for e in audit.query(session, action="seal.use")] == [2, 4, 6]
        assert len(audit.query(session, action="seal.*")) == 6
        assert len(audit.query(session, since=before)) == 6
        assert audit.query(session, until=before) == []
        assert [e.seq for e in audit.query(session, limit=2)] == [5, 6]


# --- CLI ------------------------------------------------------------------------------------


def test_cli_verify_and_show(sealctl, settings_on_each_db) -> None:
    from sealsvc.db import open_database

    with open_database(settings_on_each_db) as database:
        _append_many(database, 4)
    result = sealctl("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "intact" in result.stdout and "4 entries" in result.stdout

    shown = sealctl("audit", "show", "--seal", "41010000000001", "--json")
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)
    assert [row["seq"] for row in rows] == [2]
    assert rows[0]["details"]["名称"] == "郑州市"
    table = sealctl("audit", "show", "--since", "2000-01-01", "--action", "seal.*")
    assert table.exit_code == 0 and "seal.issue" in table.stdout

    with open_database(settings_on_each_db) as database:
        _execute(database, "UPDATE audit_entries SET action = 'seal.issue' WHERE seq = 2")
    broken = sealctl("audit", "verify")
    assert broken.exit_code == 1
    assert "seq 2" in broken.stderr and "NOT intact" in broken.stderr
    as_json = sealctl("audit", "verify", "--json")
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert report["intact"] is False
    assert [(p["seq"], p["kind"]) for p in report["problems"]] == [(2, "modified")]


def test_cli_rejects_a_bad_time(sealctl) -> None:
    result = sealctl("audit", "show", "--since", "yesterday")
    assert result.exit_code == 1
    assert "ISO 8601" in result.stderr and "Traceback" not in result.output
