"""Check records one by one or in a batch, in this process or in worker processes.

Each record is judged on its own (:func:`check_records`), then the batch adds what only a
batch can see — serial gaps per issuer and day (:mod:`.serials`) — to each record's
完整性.  A batch never stops at a bad record: an unreadable file, an unknown licence
number and even a fault of ours fail that record with the reason (a fault also gets an id
in the log, as the API's 500s do) and the batch goes on.

``workers`` > 1 runs the records in that many processes, each with its own
:class:`~sealsvc.context.ServiceContext` and :class:`.RecordInspector` (database
connections, caches and keys are not shared across processes); files are read in the
worker, so only paths and reports cross process boundaries, a chunk of
:data:`CHUNK` records per task (one registry query and one round trip each).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import multiprocessing
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pki.algorithms import digest
from pki.clock import now_utc
from pki.errors import PkiError
from sealsvc.archival_check.authenticity import authenticity
from sealsvc.archival_check.checks import failed
from sealsvc.archival_check.integrity import integrity
from sealsvc.archival_check.record import Record, RecordInspector, RegisteredLicence
from sealsvc.archival_check.report import BatchReport, Property, PropertyReport, RecordReport
from sealsvc.archival_check.security import security
from sealsvc.archival_check.serials import serial_checks
from sealsvc.archival_check.usability import usability
from sealsvc.config import Settings
from sealsvc.errors import SealsvcError
from sealsvc.gc_pacing import one_unit, settle
from sealsvc.licences import NUMBER_PATTERN
from sealsvc.verification.service import DocumentVerifier, RegistryState

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["ArchiveChecker", "Item", "check_records"]

_log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (records done, records in the batch) after each record."""


@dataclass(frozen=True)
class Item:
    """One record to check: a file (by path or by bytes) or a licence number."""

    source: str
    """How the report names it: the path, the upload's file name, ``licence:<number>``."""
    path: Path | None = None
    data: bytes | None = None
    number: str | None = None

    @classmethod
    def parse(cls, argument: str) -> Item:
        """A command-line argument: an existing path, or anything that cannot be a licence
        number, is a file (a mistyped path then reads "cannot read"); else a number."""
        path = Path(argument)
        if path.exists() or not NUMBER_PATTERN.fullmatch(argument):
            return cls(argument, path=path)
        return cls(f"licence:{argument}", number=argument)


def report_of(record: Record) -> RecordReport:
    """The four properties of one record (the serial check is the batch's to add)."""
    verification = record.verification
    return RecordReport(
        source=record.source,
        format=record.facts.format,
        size=len(record.data),
        sha256=record.sha256,
        sm3=record.sm3,
        licence_number=record.licence_number,
        verdict=verification.report.verdict.value if verification else None,
        properties=(
            authenticity(record),
            integrity(record),
            usability(record),
            security(record),
        ),
    )


Result = tuple[RecordReport, RegisteredLicence | None]
"""A record's report (the batch's serial check not yet added) and its registry record."""


def check_records(inspector: RecordInspector, items: Sequence[Item]) -> list[Result]:
    """The reports on ``items``, a chunk of a batch: each examined on its own, the registry
    read once for all of them.  Never raises for an item's sake.

    The seals are judged against the registry as it stood when the chunk began (one read
    of the audit log's head for the chunk, :meth:`.RecordInspector.registry_state`): a
    seal or certificate revoked, suspended or resumed before the chunk began shows in
    every record of it; a change while the chunk is checked may show only from the next
    chunk on.  Which licence each file is, and its status, is read after the chunk's
    files were verified."""
    try:
        state = inspector.registry_state()
    except Exception as exc:  # the chunk's records fail with the reason
        return _all_unchecked(items, [None] * len(items), exc)
    examined = [_examined(inspector, item, state) for item in items]
    try:
        registered = iter(inspector.registered([e for e in examined if isinstance(e, Record)]))
    except Exception as exc:  # the chunk's records fail with the reason
        return _all_unchecked(items, examined, exc)
    return [
        (e, None) if isinstance(e, RecordReport) else _reported(item, next(registered))
        for item, e in zip(items, examined, strict=True)
    ]


def _all_unchecked(
    items: Sequence[Item], examined: Sequence[Record | RecordReport | None], exc: Exception
) -> list[Result]:
    """Every record of a chunk whose registry could not be read failed with the reason
    (those that failed already keep their own)."""
    why = _reason(exc, f"{len(items)} records from {items[0].source}")
    return [
        (e if isinstance(e, RecordReport) else _unchecked(item, why), None)
        for item, e in zip(items, examined, strict=True)
    ]


def _reported(item: Item, record: Record) -> Result:
    """The report on ``record``, or its failed report when judging it fails."""
    try:
        return report_of(record), record.licence
    except Exception as exc:  # a batch never stops at a bad record
        return _unchecked(item, _reason(exc, item.source)), None


def _examined(
    inspector: RecordInspector, item: Item, state: RegistryState
) -> Record | RecordReport:
    """The record of ``item``, or its failed report when it cannot be examined."""
    try:
        if item.number is not None:
            return inspector.from_number(item.number, state)
        data = item.data if item.data is not None else _read(item.path)
        return inspector.examine(item.source, data, state)
    except Exception as exc:  # a batch never stops at a bad record
        return _unchecked(item, _reason(exc, item.source))


def _reason(exc: Exception, what: str) -> str:
    """Why a record could not be checked: the error's own sentence, or for a fault of
    ours an id that finds its traceback in the log (as the API's 500s do)."""
    if isinstance(exc, SealsvcError | PkiError):
        return str(exc)
    fault = uuid.uuid4().hex[:12]
    _log.error("archive check of %s failed (fault %s)", what, fault, exc_info=exc)
    return f"检测时发生内部错误（编号 {fault}，详见服务日志）"


def _read(path: Path | None) -> bytes:
    if path is None:
        raise ValueError("a record read from a file needs its path")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _Unreadable(f"无法读取 {path}：{exc.strerror}") from None


class _Unreadable(SealsvcError):
    """A file of the batch cannot be read (missing, a directory, no permission)."""


def _unchecked(item: Item, reason: str) -> RecordReport:
    """A record that could not be examined: every property fails with the reason."""
    return RecordReport(
        source=item.source,
        format="unknown",
        size=len(item.data) if item.data is not None else 0,
        sha256="0" * 64 if item.data is None else hashlib.sha256(item.data).hexdigest(),
        sm3="0" * 64 if item.data is None else digest("sm3", item.data).hex(),
        licence_number=item.number,
        verdict=None,
        properties=tuple(
            PropertyReport(which, (failed("record_readable", "记录可读取", reason),))
            for which in Property
        ),
    )


class ArchiveChecker:
    """Runs :func:`check_records` over a batch and adds the batch's serial findings."""

    def __init__(
        self,
        context: ServiceContext,
        *,
        render: bool = False,
        verifier: DocumentVerifier | None = None,
    ) -> None:
        self.context = context
        self.render = render
        self._verifier = verifier
        self._inspector: RecordInspector | None = None

    @property
    def inspector(self) -> RecordInspector:
        """Built on first use: a batch run in worker processes needs none here."""
        if self._inspector is None:
            self._inspector = RecordInspector(
                self.context, render=self.render, verifier=self._verifier
            )
        return self._inspector

    def check(
        self, items: Sequence[Item], *, workers: int = 1, progress: Progress | None = None
    ) -> BatchReport:
        results = list(self._results(items, workers, progress))
        checks, gaps = serial_checks(self.context, [licence for _, licence in results])
        records = tuple(
            report.with_check(Property.INTEGRITY, check)
            for (report, _), check in zip(results, checks, strict=True)
        )
        return BatchReport(checked_at=now_utc(), records=records, serial_gaps=tuple(gaps))

    def _results(
        self, items: Sequence[Item], workers: int, progress: Progress | None
    ) -> Iterator[Result]:
        total, done = len(items), 0
        chunks = _chunks(items, workers)
        checked: Iterator[list[Result]]
        if workers <= 1 or len(chunks) < 2:
            checked = (_paced(self.inspector, chunk) for chunk in chunks)
        else:
            checked = _in_processes(self.context.settings, self.render, chunks, workers)
        for results in checked:
            done += len(results)
            if progress is not None:
                progress(done, total)
            yield from results


def _paced(inspector: RecordInspector, items: Sequence[Item]) -> list[Result]:
    """:func:`check_records` as one unit of garbage collection (:mod:`sealsvc.gc_pacing`):
    verifying a chunk leaves cyclic garbage that, collected at CPython's default pace,
    cost a third of the check re-traversing the long-lived heap."""
    with one_unit():
        return check_records(inspector, items)


CHUNK = 32
"""Records per registry query and per task sent to a worker: large enough that the
query and a task's round trip cost little per record, small enough that the workers
finish together and the progress bar moves."""


def _chunks(items: Sequence[Item], workers: int) -> list[Sequence[Item]]:
    """``items`` in chunks of :data:`CHUNK`, smaller when a batch is too small to give
    each worker four."""
    size = max(1, min(CHUNK, -(-len(items) // (4 * workers)))) if workers > 1 else CHUNK
    return [items[start : start + size] for start in range(0, len(items), size)]


_worker: RecordInspector | None = None


def _start_worker(settings: Settings, render: bool) -> None:
    """Each worker process builds its own context and inspector once."""
    from sealsvc.context import ServiceContext

    global _worker
    _worker = RecordInspector(ServiceContext(settings), render=render)
    settle()


def _in_worker(items: Sequence[Item]) -> list[Result]:
    if _worker is None:
        raise RuntimeError("the worker process was not initialised")
    return _paced(_worker, items)


def _in_processes(
    settings: Settings, render: bool, chunks: Iterable[Sequence[Item]], workers: int
) -> Iterator[list[Result]]:
    # forkserver: each worker is forked from a fresh single-threaded server process, so no
    # database connection, lock or thread of the parent is inherited half-open (as with
    # spawn), and that server imports the checker once: spawned workers each paid ~2 s of
    # CPU importing it, more than a batch of a hundred records costs to check.
    mp_context = multiprocessing.get_context("forkserver")
    mp_context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp_context,
        initializer=_start_worker,
        initargs=(dataclasses.replace(settings, environ=dict(settings.environ)), render),
    ) as pool:
        yield from pool.map(_in_worker, chunks)
