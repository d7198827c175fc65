"""The 四性检测 report (DA/T 70-2018): frozen dataclasses, their JSON form and its schema.

DA/T 70 judges an electronic record on four properties — 真实性 (authenticity), 完整性
(integrity), 可用性 (usability), 安全性 (security) — each established by individual checks.
An archive reads the report to decide whether a record may be filed or transferred, and an
auditor years later reads *why*: so every check carries a stable id, its Chinese name, an
outcome and a reason, and the JSON form is versioned (:data:`SCHEMA_ID`) like the
verification report it builds on (``sealsvc.verification/1``).

A check that does not apply to a record (the registry comparison of a document that is no
licence, the serial continuity of a record checked alone) says ``not_applicable`` instead of
passing silently, so a reader sees what was *not* established.

What the registry knew: a batch is checked in chunks of 32 records, and each chunk's seals
are judged against the registry as it stood when the chunk began (its revocations,
suspensions and certificates, read once for the chunk); which licence each record is, and
that licence's status, are read when the chunk's files have been verified.  So a change
made before a check starts shows in every record of it; one made while a batch runs may
show only from the next chunk on.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "JSON_SCHEMA",
    "SCHEMA_ID",
    "BatchReport",
    "Check",
    "Outcome",
    "Property",
    "PropertyReport",
    "RecordReport",
]

SCHEMA_ID = "sealsvc.archive-check/1"
"""Written as ``"schema"`` into every JSON report; bumped on an incompatible change."""


class Property(StrEnum):
    """The four properties of DA/T 70-2018, in the standard's order."""

    AUTHENTICITY = "authenticity"
    INTEGRITY = "integrity"
    USABILITY = "usability"
    SECURITY = "security"

    @property
    def chinese(self) -> str:
        """真实性, 完整性, 可用性 or 安全性: the words an archivist uses."""
        return _CHINESE[self]


_CHINESE = {
    Property.AUTHENTICITY: "真实性",
    Property.INTEGRITY: "完整性",
    Property.USABILITY: "可用性",
    Property.SECURITY: "安全性",
}


class Outcome(StrEnum):
    """The result of one check."""

    PASS = "pass"  # noqa: S105  an outcome, not a password
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class Check:
    """One individual check of a property."""

    id: str
    """Stable machine name (``seals_verify``, ``fonts_embedded`` …): scripts key on it."""
    name: str
    """The check's Chinese name as an archivist reads it (电子印章有效 …)."""
    outcome: Outcome
    """``pass``, ``fail``, or ``not_applicable`` when the record has nothing to check."""
    reason: str
    """Why, in one Chinese sentence naming what was found (a failure names the culprit)."""

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAIL


@dataclass(frozen=True)
class PropertyReport:
    """One of the four properties and the checks that establish it."""

    property: Property
    checks: tuple[Check, ...]

    @builtins.property  # the field above shadows the builtin's name in this class
    def passed(self) -> bool:
        """No check failed (a property with only not-applicable checks passes: nothing
        that applies was found wrong)."""
        return not any(c.failed for c in self.checks)


@dataclass(frozen=True)
class RecordReport:
    """The 四性 report of one record: a file, or a licence of the registry."""

    source: str
    """What was checked: the path given, or ``licence:<number>`` for a registry record."""
    format: str
    """``pdf``, ``ofd``, or ``unknown`` for a file that is neither."""
    size: int
    """Bytes of the file."""
    sha256: str
    """Hex SHA-256 of the file: the checksum recorded for the archive (安全性)."""
    sm3: str
    """Hex SM3 of the file (GB/T 32905), the checksum Chinese archive systems expect."""
    licence_number: str | None
    """The registry's licence number the record is (or claims to be), else ``None``."""
    verdict: str | None
    """The verification report's verdict (``TOTAL_PASSED`` …), ``None`` if not verified."""
    properties: tuple[PropertyReport, ...]
    """The four properties in DA/T 70's order."""

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.properties)

    def property(self, which: Property) -> PropertyReport:
        return next(p for p in self.properties if p.property is which)

    def with_check(self, which: Property, check: Check) -> RecordReport:
        """This report with ``check`` added to property ``which`` (a batch-level finding,
        such as a serial gap, lands on the records it concerns)."""
        properties = tuple(
            PropertyReport(p.property, (*p.checks, check)) if p.property is which else p
            for p in self.properties
        )
        return RecordReport(**{**self.__dict__, "properties": properties})

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "size": self.size,
            "sha256": self.sha256,
            "sm3": self.sm3,
            "licence_number": self.licence_number,
            "verdict": self.verdict,
            "passed": self.passed,
            "properties": [
                {
                    "property": p.property.value,
                    "name": p.property.chinese,
                    "passed": p.passed,
                    "checks": [
                        {"id": c.id, "name": c.name, "outcome": c.outcome.value, "reason": c.reason}
                        for c in p.checks
                    ],
                }
                for p in self.properties
            ],
        }


@dataclass(frozen=True)
class BatchReport:
    """Every record of one run, and the batch's own findings (serial gaps)."""

    checked_at: datetime
    records: tuple[RecordReport, ...]
    serial_gaps: tuple[str, ...] = field(default_factory=tuple)
    """One Chinese sentence per issuer and day whose licence serials have a gap in the batch."""

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.records)

    def failed_by_property(self) -> dict[Property, int]:
        """How many records fail each property: the batch summary's columns."""
        return {
            which: sum(not r.property(which).passed for r in self.records) for which in Property
        }

    def to_dict(self) -> dict[str, Any]:
        failed = self.failed_by_property()
        return {
            "schema": SCHEMA_ID,
            "checked_at": self.checked_at.isoformat(),
            "passed": self.passed,
            "summary": {
                "records": len(self.records),
                "passed": sum(r.passed for r in self.records),
                "failed": sum(not r.passed for r in self.records),
                "failed_by_property": {which.value: n for which, n in failed.items()},
                "serial_gaps": list(self.serial_gaps),
            },
            "records": [r.to_dict() for r in self.records],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


def _obj(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": sorted(properties),
        "additionalProperties": False,
        "properties": properties,
    }


_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_COUNT = {"type": "integer", "minimum": 0}

JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    **_obj(
        {
            "schema": {"const": SCHEMA_ID},
            "checked_at": {"type": "string", "format": "date-time"},
            "passed": {"type": "boolean"},
            "summary": _obj(
                {
                    "records": _COUNT,
                    "passed": _COUNT,
                    "failed": _COUNT,
                    "failed_by_property": _obj({p.value: _COUNT for p in Property}),
                    "serial_gaps": {"type": "array", "items": _STR},
                }
            ),
            "records": {
                "type": "array",
                "items": _obj(
                    {
                        "source": _STR,
                        "format": {"enum": ["pdf", "ofd", "unknown"]},
                        "size": _COUNT,
                        "sha256": _HEX64,
                        "sm3": _HEX64,
                        "licence_number": _NSTR,
                        "verdict": _NSTR,
                        "passed": {"type": "boolean"},
                        "properties": {
                            "type": "array",
                            "minItems": 4,
                            "maxItems": 4,
                            "items": _obj(
                                {
                                    "property": {"enum": [p.value for p in Property]},
                                    "name": {"enum": [p.chinese for p in Property]},
                                    "passed": {"type": "boolean"},
                                    "checks": {
                                        "type": "array",
                                        "items": _obj(
                                            {
                                                "id": {"type": "string", "pattern": "^[a-z_]+$"},
                                                "name": _STR,
                                                "outcome": {"enum": [o.value for o in Outcome]},
                                                "reason": _STR,
                                            }
                                        ),
                                    },
                                }
                            ),
                        },
                    }
                ),
            },
        }
    ),
}
"""JSON Schema (draft 2020-12) of :meth:`BatchReport.to_dict`."""
