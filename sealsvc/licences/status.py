"""A licence number's standing, read from the registry: what the QR verification page and
``sealctl verify`` say about it.

Apart from :mod:`sealsvc.licences.pipeline` (which re-exports these names) because reading
a status needs neither the renderers (reportlab, fontTools) nor the sealing stack that
issuing does: verifying a file should not load them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pki.clock import CHINA_TIME
from sealsvc.config import Settings
from sealsvc.errors import InvalidInput, NotFound, SealsvcError
from sealsvc.licences.qr import data_hash
from sealsvc.licences.templates import Template, load_template
from sealsvc.licences.wording import VersionState, no_longer_valid
from sealsvc.models import Licence

__all__ = [
    "NUMBER_PATTERN",
    "LicenceStatusReport",
    "check_number",
    "licence_status",
    "status_of_rows",
]

NUMBER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{5,63}$")
"""Licence numbers: upper-case letters, digits and ``-``; no dots or slashes, so no path
traversal and nothing a shell or URL would need quoted."""


@dataclass(frozen=True)
class LicenceStatusReport:
    """What the verification page shows for a licence number (and the QR code's hash)."""

    number: str
    template: str
    title: str
    issuer: str
    latest_version: int
    status: str
    """Status of the latest version: ``valid``, ``annulled`` (吊销/注销)."""
    annul_kind: str | None
    """How the latest version was annulled: ``revoked`` (吊销), ``cancelled`` (注销), or
    ``None`` (not annulled, or annulled before the kind was recorded)."""
    issued_at: datetime
    status_changed_at: datetime | None
    status_reason: str | None
    presented_version: int | None
    """The version whose data hash equals the ``h`` given, if any."""
    identifier: str | None
    """The GB/T 36904 identifier of the presented version, else of the latest."""
    presented_issued_at: datetime | None
    """When the presented version was issued electronically (its e-issue date)."""
    hash_matches: bool | None
    """``None`` if no hash was given; ``False`` if it matches no version (tampered or forged)."""
    paper: tuple[tuple[str, str], ...]
    """(label, value) printed on the presented version — holder, its code (masked), issue
    date — to match the paper by; empty unless ``h`` matched, so a guessed number shows
    no one's name."""
    message: str
    """One sentence in Chinese for the person who scanned the code."""
    format: str
    """The format (``pdf`` or ``ofd``) of the presented version, else of the latest."""

    def as_dict(self) -> dict[str, Any]:
        result = asdict(self)
        for key in ("issued_at", "status_changed_at", "presented_issued_at"):
            value = result[key]
            result[key] = value.isoformat() if value else None
        result["paper"] = [{"label": label, "value": value} for label, value in self.paper]
        return result


def check_number(number: str) -> str:
    """``number`` if it is a well-formed licence number, else :class:`InvalidInput`."""
    # fullmatch: ``$`` in the pattern also matches before a trailing newline.
    if not isinstance(number, str) or not NUMBER_PATTERN.fullmatch(number):
        raise InvalidInput(
            f"licence number {number!r} is invalid: 6-64 upper-case letters, digits or '-'"
        )
    return number


def licence_status(
    session: Session, number: str, h: str | None = None, *, settings: Settings | None = None
) -> LicenceStatusReport:
    """Status of licence ``number`` for the verification page, checking the QR hash ``h``.

    ``settings`` widens the template search path to the data directory's templates.
    """
    rows = session.scalars(
        select(Licence).where(Licence.number == check_number(number)).order_by(Licence.version)
    ).all()
    if not rows:
        raise NotFound(f"no licence {number}")
    return status_of_rows(rows, h, settings=settings)


def status_of_rows(
    rows: Sequence[Licence], h: str | None = None, *, settings: Settings | None = None
) -> LicenceStatusReport:
    """:func:`licence_status` from every version of one licence, oldest first (read by the
    caller: identifying a batch of files reads the versions of all their licences at once).
    """
    latest = rows[-1]
    number = latest.number
    shown = None
    if h:  # hashing every version's data only to compare with a hash given
        versions = {data_hash(r.number, r.version, r.template, json.loads(r.data)): r for r in rows}
        shown = versions.get(h)
    presented = shown.version if shown else None
    data = json.loads(latest.data)
    template: Template | None = None
    try:
        template = load_template(latest.template, settings)
        title, issuer = template.title, data.get(template.spec.issuer_field, "")
    except SealsvcError:  # a template removed after issue: the record still answers
        title, issuer = latest.template, ""
    issued = latest.issued_at.astimezone(CHINA_TIME).strftime("%Y年%m月%d日")
    gone = no_longer_valid(VersionState.of(shown or latest), VersionState.of(latest))
    if h and shown is None:
        message = "核验失败：二维码与本证照的登记信息不符，证照内容可能被篡改。"
    elif gone is not None:
        reason = f"原因：{latest.status_reason}。" if latest.status_reason else ""
        message = gone + (reason if shown in (None, latest) else "")
    else:
        message = f"有效：{title}（{number}）第{latest.version}版，由{issuer}于{issued}签发。"
    paper = template.paper(json.loads(shown.data)) if shown and template else []
    return LicenceStatusReport(
        number=number,
        template=latest.template,
        title=title,
        issuer=issuer,
        latest_version=latest.version,
        status=latest.status,
        annul_kind=latest.annul_kind,
        issued_at=latest.issued_at,
        status_changed_at=latest.status_changed_at,
        status_reason=latest.status_reason,
        presented_version=presented,
        identifier=(shown or latest).identifier,
        presented_issued_at=shown.issued_at if shown else None,
        hash_matches=None if not h else presented is not None,
        paper=tuple(paper),
        message=message,
        format=(shown or latest).format,
    )
