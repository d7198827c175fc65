"""Scheduled renewal of stored licences (``archive renew``): due, renewed, idempotent, resumable.

The service's clock moves nine years on: the licences' time-stamps expire within two
years.  With the TSA certificate not renewed yet, renewing would not help and the job
says so; once it is, a dry run lists the due licences, a run renews them (audited), a
second run does nothing, and a run that dies after writing a file but before its audit
entry committed is finished by the next one.  Twelve years on, the renewed copies verify
and an exported package of one checks offline.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from helpers.archive_fixtures import renew_service_certificates as _renew_service_certificates
from helpers.time_fixtures import ACTOR, YEAR, World

from pki.clock import now_utc
from sealsvc import audit, seals
from sealsvc.archive import renew as renew_module
from sealsvc.archive.import_check import import_check
from sealsvc.archive.package import PackageExporter
from sealsvc.archive.renew import RENEW_ACTION, archival_copy, parse_window, renew
from sealsvc.errors import InvalidInput
from sealsvc.licences import get_licence, issue_licence, load_template

pytest_plugins = ("helpers.seal_fixtures", "helpers.time_fixtures")  # sqlite_seal_context, world

WINDOW = timedelta(days=2 * 365)


def _licences(world: World, count: int, file_format: str = "pdf") -> list[str]:
    algorithm = "sm2" if file_format == "ofd" else "rsa"
    code = seals.issue(
        world.context, department="郑州市市场监督管理局", kind="公章", algorithm=algorithm,
        actor=ACTOR,
    ).code  # fmt: skip
    template = load_template("business_licence")
    return [
        issue_licence(
            world.context, template, template.example, [code], actor=ACTOR, file_format=file_format
        ).number
        for _ in range(count)
    ]


def _renewals(world: World) -> list[dict]:
    with world.context.database.session(read_only=True) as session:
        return [audit.entry_to_dict(e) for e in audit.query(session, action=RENEW_ACTION)]


def _run(world: World, *, dry_run: bool = False):
    return renew(
        world.context, within=WINDOW, actor=ACTOR, dry_run=dry_run, trust=world.trust,
        now=world.clock(),
    )  # fmt: skip


def test_nothing_is_due_while_the_time_stamps_are_young(world: World) -> None:
    _licences(world, 1)
    report = _run(world)
    assert report.checked == 1 and report.items == []


def test_due_licences_are_listed_renewed_once_and_verify_twelve_years_on(world: World) -> None:
    numbers = _licences(world, 2)
    (ofd,) = _licences(world, 1, "ofd")
    issued = now_utc()
    world.travel(issued + 9 * YEAR)

    blocked = _run(world)
    assert {i.action for i in blocked.items if i.number in numbers} == {"skipped"}
    assert all("renew the TSA certificate first" in i.reason for i in blocked.items
               if i.number in numbers)  # fmt: skip
    assert _renewals(world) == []

    _renew_service_certificates(world, "rsa")
    listed = _run(world, dry_run=True)
    assert [(i.number, i.action) for i in listed.items] == [
        (numbers[0], "due"), (numbers[1], "due"), (ofd, "skipped")
    ]  # fmt: skip
    assert listed.items[0].reason == "TSA certificate expires"
    assert _renewals(world) == []

    done = _run(world)
    assert [(i.number, i.action) for i in done.items] == [
        (numbers[0], "renewed"), (numbers[1], "renewed"), (ofd, "skipped")
    ]  # fmt: skip
    renewals = _renewals(world)
    assert [(r["details"]["number"], r["document_hash"]) for r in renewals] == [
        (i.number, i.output_sha256) for i in done.items[:2]
    ]

    again = _run(world)  # idempotent: fresh time-stamps are not due
    assert [i.action for i in again.items] == ["skipped"]  # the OFD only
    assert len(_renewals(world)) == 2

    twelve_years = issued + 12 * YEAR
    for number in numbers:
        record = get_licence(world.context, number)
        copy, name = archival_copy(world.context, record)
        assert name == f"{number}-v1.pdf" and copy != b""
        assert copy.startswith(archival_copy_original(world, number))
        assert world.verify(copy, twelve_years).passed

    # Re-export at year nine: the archive seal's own evidence (SM2 TSA, seal maker) must
    # outlive the check at year twelve, so the operator has renewed those as well.
    _renew_service_certificates(world, "sm2")
    with world.context.database.session() as session:
        world.context.ca.create_seal_maker(session, actor=ACTOR)
    with world.context.database.session(read_only=True) as session:
        world.context.ca.export_files(session)
    exporter = PackageExporter(world.context, world.trust, clock=world.clock)
    package = exporter.export_licence(numbers[0], actor=ACTOR)
    report = import_check(package.data, now=twelve_years)
    assert report.passed, [c for c in report.checks if not c.passed]


def archival_copy_original(world: World, number: str) -> bytes:
    """The registered file, as issued (renewal never changes it)."""
    return (world.context.settings.data_dir / "licences" / f"{number}-v1.pdf").read_bytes()


def test_a_run_that_dies_before_its_audit_entry_commits_is_finished_by_the_next(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file of the second licence is written, then the process "dies" before the
    commit: no entry, so the copy does not count; the next run renews it, once."""
    first, second = _licences(world, 2)
    world.travel(now_utc() + 9 * YEAR)
    _renew_service_certificates(world, "rsa")
    real_store = renew_module._store
    calls = []

    def store_then_die(context, record, pdf: bytes) -> None:
        real_store(context, record, pdf)
        calls.append(record.number)
        if record.number == second:
            raise KeyboardInterrupt("killed between the file and the commit")

    monkeypatch.setattr(renew_module, "_store", store_then_die)
    with pytest.raises(KeyboardInterrupt):
        _run(world)
    assert calls == [first, second]
    assert [r["details"]["number"] for r in _renewals(world)] == [first]
    stray = world.context.settings.data_dir / "licences" / "archive" / f"{second}-v1.pdf"
    assert stray.exists()  # written, never committed: ignored
    record = get_licence(world.context, second)
    assert archival_copy(world.context, record)[0] == archival_copy_original(world, second)

    monkeypatch.setattr(renew_module, "_store", real_store)
    resumed = _run(world)
    assert [(i.number, i.action) for i in resumed.items] == [(second, "renewed")]
    assert [r["details"]["number"] for r in _renewals(world)] == [first, second]
    assert archival_copy(world.context, record)[0] == stray.read_bytes()


def test_windows_are_parsed_or_refused() -> None:
    assert parse_window("2y") == timedelta(days=730)
    assert parse_window("18m") == timedelta(days=540)
    assert parse_window("90d") == timedelta(days=90)
    for bad in ("", "2", "y", "-1y", "2w", "1.5y"):
        with pytest.raises(InvalidInput, match="write a number and y, m or d"):
            parse_window(bad)


def test_the_cli_lists_and_renews(world: World, sealctl, tmp_path: Path) -> None:
    (number,) = _licences(world, 1)
    _renew_service_certificates(world, "rsa")  # a TSA certificate that outlives the first
    result = sealctl("archive", "renew", "--within", "20y", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert '"action": "due"' in result.output and number in result.output
    result = sealctl("archive", "renew", "--within", "20y")
    assert result.exit_code == 0, result.output
    assert f"renewed  {number} v1" in result.output
    assert "1 licence version(s) checked, 1 renewed" in result.output
    result = sealctl("archive", "renew", "--within", "bad")
    assert result.exit_code == 1 and "write a number" in result.output
