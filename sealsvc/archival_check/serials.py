"""Serial continuity in a batch (完整性): no licence of an issuer's day left out.

Licence numbers carry the day of issue but not a running serial (the eight digits after
the date are random, so that numbers cannot be guessed), so the registry's own order is
the serial: each issuer's licences of one day (Beijing time), version 1, in the order they
were issued.  A batch that holds two or more licences of an issuer's day must hold every
licence the registry issued between them; one missing is a gap in the transfer — the
loss DA/T 70's integrity check exists to catch.  Records of an issuer's day held alone, and
files that are no registered licence, have no serial to check (``not_applicable``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from pki.clock import CHINA_TIME
from sealsvc.archival_check.checks import failed, not_applicable, passed
from sealsvc.archival_check.record import RegisteredLicence, issuer_of
from sealsvc.archival_check.report import Check
from sealsvc.models import Licence

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["serial_checks"]

_NAME = "证照编号连续"


def serial_checks(
    context: ServiceContext, licences: Sequence[RegisteredLicence | None]
) -> tuple[list[Check], list[str]]:
    """One check per record (same order) and one sentence per gap found."""
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for licence in licences:
        if licence is not None:
            groups[(licence.issuer, licence.issue_day)].add(licence.number)
    gaps: dict[tuple[str, str], list[str]] = {}
    for (issuer, day), numbers in groups.items():
        if len(numbers) > 1:
            gaps[(issuer, day)] = _missing(context, issuer, day, numbers)
    checks, sentences = [], []
    for (issuer, day), missing in gaps.items():
        if missing:
            sentences.append(
                f"发证机构 {issuer} 于 {day} 签发的证照缺号 {len(missing)} 个：{'、'.join(missing)}"
            )
    for licence in licences:
        key = (licence.issuer, licence.issue_day) if licence else None
        if key not in gaps:
            checks.append(
                not_applicable("serial_continuity", _NAME, "本批次中没有同一发证机构同日的其他证照")
            )
        elif gaps[key]:
            checks.append(
                failed(
                    "serial_continuity",
                    _NAME,
                    f"同一发证机构（{key[0]}）{key[1]} 的证照在本批次中缺号："
                    + "、".join(gaps[key][:10]),
                )
            )
        else:
            checks.append(
                passed(
                    "serial_continuity",
                    _NAME,
                    f"同一发证机构 {key[1]} 的 {len(groups[key])} 份证照编号连续，无缺号",
                )
            )
    return checks, sentences


def _missing(context: ServiceContext, issuer: str, day: str, numbers: set[str]) -> list[str]:
    """Numbers the registry issued for ``issuer`` on ``day`` between the batch's first and
    last licence of that day, and absent from the batch."""
    start = datetime.combine(datetime.fromisoformat(day).date(), time(), CHINA_TIME)
    with context.database.session(read_only=True) as session:
        rows = session.scalars(
            select(Licence)
            .where(
                Licence.version == 1,
                Licence.issued_at >= start,
                Licence.issued_at < start + timedelta(days=1),
            )
            .order_by(Licence.issued_at, Licence.id)
        ).all()
        serial = [
            row.number
            for row in rows
            if issuer_of(row.identifier, json.loads(row.seal_codes)) == issuer
        ]
    held = [i for i, number in enumerate(serial) if number in numbers]
    if not held:
        return []
    return [n for n in serial[held[0] : held[-1] + 1] if n not in numbers]
