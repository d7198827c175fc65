"""What the file itself shows, whatever its format: the observations the checks judge.

:mod:`.pdf_facts` and :mod:`.ofd_facts` read a PDF or an OFD once each and fill the same
:class:`FileFacts`, so the four property modules judge one vocabulary and never parse a
file themselves.  Every observation is a list of findings in words (empty = nothing found):
the reason a check gives names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["GBT36903_REQUIRED", "FileFacts"]

GBT36903_REQUIRED: dict[str, str] = {
    "name": "证照名称",
    "type_code": "证照类型代码",
    "number": "证照编号",
    "identifier": "证照标识",
    "issuer_name": "发证机构",
    "issuer_code": "发证机构代码",
    "issue_date": "发证日期",
    "holder_name": "持证主体",
    "valid_from": "有效期起始日期",
    "valid_until": "有效期截止日期",
}
"""GB/T 36903-2018 elements every licence must carry (the holder's code and its type only
where the licence type has one): English key of :class:`~sealsvc.licences.metadata.
LicenceMetadata` → the standard's name."""


@dataclass(frozen=True)
class FileFacts:
    """Observations on one file; ``problem`` set means it could not be read at all."""

    format: str
    """``pdf``, ``ofd`` or ``unknown``."""
    problem: str | None = None
    """Why the file could not be opened (damaged, not a PDF/OFD, needs a password)."""
    encrypted: bool = False
    """The PDF has an /Encrypt dictionary (even one that opens with the empty password)."""
    pages: int = 0
    page_problems: tuple[str, ...] = ()
    """Pages whose content cannot be read or names a resource that is not there."""
    fonts_not_embedded: tuple[str, ...] = ()
    """Fonts used without their font program in the file."""
    images: int = 0
    """Images the pages use (all found, else they are in ``page_problems``)."""
    external_references: tuple[str, ...] = ()
    """Content that lives outside the file: external streams, reference XObjects,
    GoToR/Launch targets, OFD resources at URLs or absolute paths."""
    active_content: tuple[str, ...] = ()
    """JavaScript anywhere, Launch actions, URI or other actions run on opening, OFD
    actions that run on opening (Event DO) or play media."""
    executables: tuple[str, ...] = ()
    """Embedded files or attachments that are programs (by content or by name)."""
    long_term_format: str | None = None
    """``PDF/A-2B`` etc. as the file claims it, or ``OFD`` (GB/T 33190), else ``None``."""
    long_term_problems: tuple[str, ...] = ()
    """Where the file contradicts its long-term format claim (no output intent, XMP and
    the Info dictionary disagreeing, a part/conformance level PDF/A does not allow)."""
    revocation_evidence: frozenset[str] = frozenset()
    """What the file embeds to settle revocation offline (a PDF's DSS): ``ocsp:<serial
    hex>`` per certificate an OCSP answer vouches for, ``crl:<issuer>`` per CRL issuer."""
    notes: tuple[str, ...] = ()
    """Deviations worth knowing that do not fail a check (stated in the reason)."""
    descriptive: dict[str, str] = field(default_factory=dict)
    """DA/T 46-style metadata present: ``title``, ``creator``, ``created``, ``modified``."""
    licence_metadata: dict[str, str] = field(default_factory=dict)
    """GB/T 36903 elements the file carries (XMP or ``CustomDatas``), by English key."""

    @property
    def readable(self) -> bool:
        return self.problem is None
