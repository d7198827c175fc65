"""四性检测 (DA/T 70-2018): authenticity, integrity, usability and security of records.

One module per property (:mod:`.authenticity`, :mod:`.integrity`, :mod:`.usability`,
:mod:`.security`), each judging the facts a file shows (:mod:`.pdf_facts`,
:mod:`.ofd_facts`), the verification engine's report and the registry's record
(:mod:`.record`); :mod:`.runner` checks batches (in worker processes if asked) and adds
the serial gaps only a batch shows (:mod:`.serials`); :mod:`.report` is the versioned
report.  ``docs/archive-check.md`` describes every check.
"""

from sealsvc.archival_check.report import JSON_SCHEMA as ARCHIVE_CHECK_SCHEMA
from sealsvc.archival_check.report import (
    SCHEMA_ID,
    BatchReport,
    Check,
    Outcome,
    Property,
    PropertyReport,
    RecordReport,
)
from sealsvc.archival_check.runner import ArchiveChecker, Item

__all__ = [
    "ARCHIVE_CHECK_SCHEMA",
    "SCHEMA_ID",
    "ArchiveChecker",
    "BatchReport",
    "Check",
    "Item",
    "Outcome",
    "Property",
    "PropertyReport",
    "RecordReport",
]
