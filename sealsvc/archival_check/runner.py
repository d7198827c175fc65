"""Check records one by one or in a batch, in this process or in worker processes.

Each record is judged on its own (:func:`check_record`), then the batch adds what only a
batch can see — serial gaps per issuer and day (:mod:`.serials`) — to each record's
完整性.  A batch never stops at a bad record: an unreadable file, an unknown licence
number and even a fault of ours fail that record with the reason (a fault also gets an id
in the log, as the API's 500s do) and the batch goes on.

``workers`` > 1 runs the records in that many processes, each with its own
:class:`~sealsvc.context.ServiceContext` and :class:`.RecordInspector` (database
connections, caches and keys are not shared across processes); files are read in the
worker, so only paths and reports cross process boundaries.
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
from sealsvc.licences import NUMBER_PATTERN
from sealsvc.verification.service import DocumentVerifier

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["ArchiveChecker", "Item", "check_record"]

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


def check_record(
    inspector: RecordInspector, item: Item
) -> tuple[RecordReport, RegisteredLicence | None]:
    """The report on ``item`` and its registry record; never raises for the item's sake."""
    try:
        if item.number is not None:
            record = inspector.from_number(item.number)
        else:
            data = item.data if item.data is not None else _read(item.path)
            record = inspector.from_bytes(item.source, data)
        return report_of(record), record.licence
    except (SealsvcError, PkiError) as exc:
        return _unchecked(item, str(exc)), None
    except Exception:  # a fault of ours must not end the batch: logged with an id
        fault = uuid.uuid4().hex[:12]
        _log.exception("archive check of %s failed (fault %s)", item.source, fault)
        return _unchecked(item, f"检测时发生内部错误（编号 {fault}，详见服务日志）"), None


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
    """Runs :func:`check_record` over a batch and adds the batch's serial findings."""

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
    ) -> Iterator[tuple[RecordReport, RegisteredLicence | None]]:
        total = len(items)
        done: Iterator[tuple[RecordReport, RegisteredLicence | None]]
        if workers <= 1 or total < 2:
            done = (check_record(self.inspector, item) for item in items)
        else:
            done = _in_processes(self.context.settings, self.render, items, workers)
        for index, result in enumerate(done, start=1):
            if progress is not None:
                progress(index, total)
            yield result


_worker: RecordInspector | None = None


def _start_worker(settings: Settings, render: bool) -> None:
    """Each worker process builds its own context and inspector once."""
    from sealsvc.context import ServiceContext

    global _worker
    _worker = RecordInspector(ServiceContext(settings), render=render)


def _in_worker(item: Item) -> tuple[RecordReport, RegisteredLicence | None]:
    if _worker is None:
        raise RuntimeError("the worker process was not initialised")
    return check_record(_worker, item)


def _in_processes(
    settings: Settings, render: bool, items: Iterable[Item], workers: int
) -> Iterator[tuple[RecordReport, RegisteredLicence | None]]:
    # spawn: a fresh interpreter per worker, so no database connection or lock of the
    # parent is inherited half-open.
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(dataclasses.replace(settings, environ=dict(settings.environ)), render),
    ) as pool:
        yield from pool.map(_in_worker, items, chunksize=8)
