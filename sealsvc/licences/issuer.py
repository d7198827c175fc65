"""The issuer printed on a licence is the department that seals it.

A licence names its issuing authority in one field (the template's ``issuer_field``:
登记机关, 发证机关, 作出决定机关, 登记机构), and that is the name the QR page and the PDF's
author show. Without a rule binding it to the seals, a department could seal a licence
that names another department as issuer, and a reader would trust the wrong body.
So, before anything is rendered, sealed or stored:

* every seal must be of a kind the template allows (``seal_kinds``: a 施工许可证 is issued
  under a 公章 or 行政审批专用章, never a 合同专用章);
* the issuer field must name the departments that hold the seals: their registered names
  (the current name in the department registry), in seal order, each once, joined with
  :data:`JOINT_SEPARATOR` "、" — the way joint documents (联合发文) list their issuing
  bodies. An absent or empty issuer is filled in with that text (an approval system need
  not repeat what the seals already say); a given one is compared ignoring white space
  and full/half-width forms (NFKC) and, if equal, printed in the registered spelling;
  anything else is refused.

Refusals are :class:`IssuerRefused`: HTTP 422 with the offending request member
(``data.<field>`` or ``seals[i]``) in :attr:`IssuerRefused.location`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc.errors import InvalidInput, NotFound
from sealsvc.licences.templates import Template
from sealsvc.models import Department, Seal

__all__ = [
    "JOINT_SEPARATOR",
    "IssuerRefused",
    "SealHolder",
    "bind_issuer",
    "expected_issuer",
    "issuer_code",
    "seal_holders",
]

JOINT_SEPARATOR = "、"
"""Between the departments of a jointly sealed licence, as in 联合发文."""


class IssuerRefused(InvalidInput):
    """The issuer field or a seal kind contradicts the seals of the licence."""

    status = 422
    kind = "licence-issuer"

    def __init__(self, message: str, location: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.location = location
        """Where in the licence request: ``("data", "authority")`` or ``("seals", 1)``."""


@dataclass(frozen=True)
class SealHolder:
    """What issuing needs to know of one seal: its kind and department (the issuer rule)
    and its algorithm (an OFD licence takes SM2 seals only)."""

    code: str
    kind: str
    department_code: str
    department_name: str
    credit_code: str | None = None
    """The department's 统一社会信用代码, the issuer code of the licence identifier."""
    algorithm: str | None = None
    """The seal's key algorithm (``rsa2048``, ``sm2`` …, :class:`~sealsvc.models.SealAlgorithm`)."""


def seal_holders(session: Session, codes: Sequence[str]) -> list[SealHolder]:
    """The kind, department and algorithm of each seal (:class:`NotFound` for an unknown
    code): one row per seal, not the seal with its certificate history that
    :func:`sealsvc.seals.get` loads (a millisecond of every licence issued)."""
    holders = []
    for code in codes:
        row = session.execute(
            select(
                Seal.code,
                Seal.kind,
                Department.code,
                Department.name,
                Department.credit_code,
                Seal.algorithm,
            )
            .join(Department, Seal.department_id == Department.id)
            .where(Seal.code == code.strip())
        ).one_or_none()
        if row is None:
            raise NotFound(f"no seal with code {code!r}")
        holders.append(SealHolder(*row))
    return holders


_SHOWN = 80
"""How much of a refused value the message (and so the audit log) repeats."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _comparable(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def expected_issuer(holders: Sequence[SealHolder]) -> str:
    """The registered names of the sealing departments, in seal order, each once."""
    names = dict.fromkeys(h.department_name for h in holders)
    return JOINT_SEPARATOR.join(names)


def bind_issuer(template: Template, data: Any, holders: Sequence[SealHolder]) -> Any:
    """``data`` with the issuer field filled in or checked (see the module docstring).

    Data that is not a JSON object is returned unchanged for the template's validation
    to report. Raises :class:`IssuerRefused` for a seal of a kind the template does not
    allow or an issuer that is not the sealing departments.
    """
    allowed = template.spec.seal_kinds
    for index, holder in enumerate(holders):
        if holder.kind not in allowed:
            raise IssuerRefused(
                f"seals[{index}]: seal {holder.code} is a {holder.kind} of "
                f"{holder.department_name}; a {template.title} may be sealed only with a "
                f"{' or '.join(allowed)}",
                ("seals", index),
            )
    if not isinstance(data, Mapping):
        return data
    spec = template.fields[template.spec.issuer_field]
    expected = expected_issuer(holders)
    given = data.get(spec.name)
    if given is None or (isinstance(given, str) and not given.strip()):
        return {**data, spec.name: expected}
    if not isinstance(given, str) or _comparable(given) != _comparable(expected):
        whose = "departments of the seals" if len(holders) > 1 else "department of the seal"
        raise IssuerRefused(
            f"{spec.label} ({spec.name}) must name the {whose}, {expected!r} "
            f"(joint issuers joined with {JOINT_SEPARATOR!r}, in seal order), got {_shown(given)}; "
            "leave it out to have it filled in",
            ("data", spec.name),
        )
    return {**data, spec.name: expected}


def issuer_code(template: Template, holders: Sequence[SealHolder]) -> str | None:
    """The issuer code of the licence's GB/T 36904 identifier: the first seal's department's
    统一社会信用代码 (the body that certifies the licence); ``None`` for a template without
    a licence type, which gets no identifier.

    Raises :class:`IssuerRefused` (on ``seals[0]``) when that department has none recorded:
    a licence of a type the national platforms index must not go out without one.
    """
    if template.spec.licence_type is None:
        return None
    first = holders[0]
    if first.credit_code is None:
        raise IssuerRefused(
            f"seals[0]: the department of seal {first.code}, {first.department_name} "
            f"({first.department_code}), has no 统一社会信用代码 recorded, and a {template.title} "
            "carries it in its identifier (GB/T 36904); record it with "
            f"sealctl dept set-credit-code {first.department_code} <code>",
            ("seals", 0),
        )
    return first.credit_code
