"""The metadata of an electronic licence (电子证照元数据, GB/T 36903-2018).

National platforms index and exchange 电子证照 by a small, fixed set of data elements,
whatever the licence type: its name, type code, number and identifier, the issuing body
and its code, the issue date, the holder, the holder's code and what kind of code it is,
and the validity period.  :func:`licence_metadata` derives that record from a licence
(template, data, number, identifier) — the one place that knows where each element comes
from — and the record is written where readers look for it:

* in the PDF's XMP packet, in our own namespace :data:`XMP_NAMESPACE` declared with a
  PDF/A extension schema so the file stays PDF/A-2b (:meth:`LicenceMetadata.xmp_schema`);
* in the OFD's ``DocInfo/CustomDatas`` as name/value pairs (:meth:`LicenceMetadata.pairs`,
  the standard's Chinese element names);
* in the API and ``sealctl licence show --json`` (:meth:`LicenceMetadata.as_dict`).

Where the elements come from:

* 证照名称 — the template's title; 证照类型代码 — ``licence_type.code`` of the template;
* 证照编号, 证照标识 — the licence number and its GB/T 36904 identifier;
* 发证机构 — the issuer field as printed (joint issuers joined with 、); 发证机构代码 — the
  issuer code of the identifier (the first seal's department);
* 发证日期 — the date printed as the issue date (``paper_fields.issue_date``), else the day of
  electronic issue in Beijing time;
* 持证主体, 持证主体代码 — ``paper_fields.holder`` / ``holder_id``; 持证主体代码类型 —
  ``licence_type.holder_id_type``;
* 有效期起始日期, 有效期截止日期 — parsed from ``licence_type.validity_field`` (``<start>至<end>``
  or ``<start>起<end>止``, the end may be 长期); without one, or when it says only 长期,
  from the issue date, 长期.

Dates are ISO 8601 (``2024-03-15``); an open-ended validity ends :data:`LONG_TERM`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime

from pki.clock import CHINA_TIME
from sealsvc.errors import InvalidInput
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.licences.pdfa import XmpSchema
from sealsvc.licences.templates import Template

__all__ = [
    "ELEMENTS",
    "LONG_TERM",
    "XMP_NAMESPACE",
    "XMP_PREFIX",
    "LicenceMetadata",
    "licence_metadata",
    "validity_period",
]

LONG_TERM = "长期"
"""The end of a validity period that has none (GB/T 36903 allows it in place of a date)."""

XMP_NAMESPACE = "urn:sealsvc:ns:gbt36903:1.0#"
"""Our XMP namespace for the GB/T 36903 elements: the standard defines none for XMP, and a
URN claims no web address that is not ours."""
XMP_PREFIX = "gbt36903"

_DAY = r"(\d{4})\s*(?:年|-)\s*(\d{1,2})\s*(?:月|-)\s*(\d{1,2})\s*日?"
_PERIOD = re.compile(
    rf"{_DAY}\s*(?:至|起)\s*(?:{_DAY}|(长期))\s*止?",
)


@dataclass(frozen=True)
class LicenceMetadata:
    """The GB/T 36903 record of one licence version; ``None`` = the licence has no such element."""

    name: str
    """证照名称: the template's title (营业执照 …)."""
    type_code: str | None
    """证照类型代码 (21 characters): the identifier's, else the template's licence type's."""
    number: str
    """证照编号: the licence number printed on it."""
    identifier: str | None
    """证照标识: the GB/T 36904 identifier of this version."""
    issuer_name: str
    """发证机构: the issuing authority as printed."""
    issuer_code: str | None
    """发证机构代码: the issuing department's 统一社会信用代码."""
    issue_date: str
    """发证日期, ISO 8601."""
    holder_name: str | None
    """持证主体: the holder (企业名称, 申请人, 建设单位, 权利人)."""
    holder_code: str | None
    """持证主体代码: the holder's code, e.g. its 统一社会信用代码."""
    holder_code_type: str | None
    """持证主体代码类型: what kind of code that is."""
    valid_from: str
    """有效期起始日期, ISO 8601."""
    valid_until: str
    """有效期截止日期, ISO 8601 or :data:`LONG_TERM`."""

    def as_dict(self) -> dict[str, str]:
        """The elements present, by English key (JSON, API)."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def pairs(self) -> list[tuple[str, str]]:
        """(Chinese element name, value) of the elements present, in the standard's order:
        what an OFD writes as ``<ofd:CustomData Name="…">…</ofd:CustomData>``."""
        return [(ELEMENTS[key][0], value) for key, value in self.as_dict().items()]

    def xmp_schema(self) -> XmpSchema:
        """The elements present as XMP properties of :data:`XMP_NAMESPACE`."""
        return XmpSchema(
            namespace=XMP_NAMESPACE,
            prefix=XMP_PREFIX,
            description="电子证照元数据 (GB/T 36903-2018)",
            properties=tuple(
                (ELEMENTS[key][1], value, ELEMENTS[key][0]) for key, value in self.as_dict().items()
            ),
        )


ELEMENTS: dict[str, tuple[str, str]] = {
    "name": ("证照名称", "Name"),
    "type_code": ("证照类型代码", "TypeCode"),
    "number": ("证照编号", "Number"),
    "identifier": ("证照标识", "Identifier"),
    "issuer_name": ("发证机构", "IssuerName"),
    "issuer_code": ("发证机构代码", "IssuerCode"),
    "issue_date": ("发证日期", "IssueDate"),
    "holder_name": ("持证主体", "HolderName"),
    "holder_code": ("持证主体代码", "HolderCode"),
    "holder_code_type": ("持证主体代码类型", "HolderCodeType"),
    "valid_from": ("有效期起始日期", "ValidFrom"),
    "valid_until": ("有效期截止日期", "ValidUntil"),
}
"""Per element: the standard's Chinese name and the XMP property name."""


def _iso(year: str, month: str, day: str) -> str:
    return date(int(year), int(month), int(day)).isoformat()


def validity_period(
    template: Template, data: Mapping[str, str], issue_date: str
) -> tuple[str, str]:
    """(start, end) of the licence's validity, ISO dates, the end possibly :data:`LONG_TERM`.

    Raises :class:`InvalidInput` naming the field when the template's validity field holds
    something that is not a period (the metadata must not guess).
    """
    licence_type = template.spec.licence_type
    name = licence_type.validity_field if licence_type else None
    text = data.get(name) if name else None
    if name is None or text is None or text.strip() == LONG_TERM:
        return issue_date, LONG_TERM
    who = f"{template.label(name)} ({name})"
    match = _PERIOD.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(
            f"{who} must state the validity period as <start>至<end> (e.g. "
            f"2024年03月12日至2029年03月11日, or …至长期), got {text!r}"
        )
    try:
        start = _iso(*match.group(1, 2, 3))
        end = LONG_TERM if match[7] else _iso(*match.group(4, 5, 6))
    except ValueError:
        raise InvalidInput(f"{who} names a day that does not exist: {text!r}") from None
    if end != LONG_TERM and end < start:
        raise InvalidInput(f"{who} ends before it starts: {text!r}")
    return start, end


def licence_metadata(
    template: Template,
    *,
    number: str,
    data: Mapping[str, str],
    identifier: LicenceIdentifier | str | None,
    issued_at: datetime,
) -> LicenceMetadata:
    """The GB/T 36903 record of a licence version (see the module docstring for each element).

    ``data`` is the validated data (:meth:`Template.validate_data`); ``identifier`` the
    version's GB/T 36904 identifier (``None`` for a template without a licence type, or a
    licence issued before identifiers existed).
    """
    if isinstance(identifier, str):
        identifier = LicenceIdentifier.parse(identifier)
    spec = template.spec
    paper = spec.paper_fields
    licence_type = spec.licence_type
    printed = data.get(paper.issue_date) if paper else None
    issue_date = printed or issued_at.astimezone(CHINA_TIME).date().isoformat()
    holder_code = data.get(paper.holder_id) if paper and paper.holder_id else None
    valid_from, valid_until = validity_period(template, data, issue_date)
    return LicenceMetadata(
        name=spec.title,
        # The identifier's own type code: the template's may have changed since issue.
        type_code=identifier.type_code
        if identifier
        else licence_type.code
        if licence_type
        else None,
        number=number,
        identifier=str(identifier) if identifier else None,
        issuer_name=data.get(spec.issuer_field, ""),
        issuer_code=identifier.issuer_code if identifier else None,
        issue_date=issue_date,
        holder_name=data.get(paper.holder) if paper else None,
        holder_code=holder_code,
        holder_code_type=licence_type.holder_id_type if holder_code and licence_type else None,
        valid_from=valid_from,
        valid_until=valid_until,
    )
