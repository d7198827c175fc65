"""Issuing an enterprise's seal set: with its 营业执照 in one call ("1+X"), or later for a
licence already issued.

Everything a set needs is checked and drawn first (:func:`plan`): the kinds, the credit
code, every image (a character the seal font lacks is refused before anything is made).
Then the set is made in **one transaction** (:func:`issue_in`): the holder (a department
of kind ``enterprise`` whose code is the credit code), the :class:`~sealsvc.models.Enterprise`
row, a key, certificate and ``SESeal`` per seal, and an API key bound to the holder. With
a new licence that transaction is the licence's own (:func:`issue_licence_with_seals`
passes :func:`issue_in` to the pipeline), so a seal that cannot be made leaves no licence,
no seal, no holder and no API key behind — only the ``seal.use`` entries of the issuing
authority's seals on the discarded licence, which are true.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc import apikeys, audit, departments, seals
from sealsvc.enterprise import registry
from sealsvc.enterprise.catalogue import ALGORITHM, SealKindSpec, resolve_kinds
from sealsvc.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from sealsvc.licences import LicenceRecord, issue_licence
from sealsvc.models import DepartmentKind, Enterprise, Licence, LicenceStatus, Seal, SealStatus
from sealsvc.sealimage import geometry, load_font

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = [
    "BUSINESS_LICENCE",
    "EnterpriseData",
    "SealSet",
    "SealSetPlan",
    "business_licence_number",
    "issue_for_licence",
    "issue_in",
    "issue_licence_with_seals",
    "plan",
]

BUSINESS_LICENCE = "business_licence"
"""The 营业执照 template: the only licence a seal set is issued with."""
_API_KEY_SCOPES = frozenset({"sign"})


@dataclass(frozen=True)
class EnterpriseData:
    """What a seal set is made from, as the 营业执照 states it."""

    credit_code: str
    name: str
    legal_representative: str

    @classmethod
    def from_licence(cls, data: Mapping[str, Any]) -> EnterpriseData:
        """From the licence's data (``uscc``, ``name``, ``legal_representative``)."""
        values = {}
        for member in ("uscc", "name", "legal_representative"):
            value = data.get(member) if isinstance(data, Mapping) else None
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"an enterprise seal set needs the licence's data.{member}")
            values[member] = value.strip()
        return cls(
            departments.normalise_credit_code(values["uscc"]),
            values["name"],
            values["legal_representative"],
        )


@dataclass(frozen=True)
class SealSetPlan:
    """A checked request: the enterprise and the kinds to issue, images drawn."""

    enterprise: EnterpriseData
    kinds: tuple[SealKindSpec, ...]


@dataclass
class SealSet:
    """What :func:`issue_in` made."""

    enterprise: registry.EnterpriseView
    issued: tuple[str, ...]
    """Codes of the seals issued by this call (a set may have had some already)."""
    api_key: str | None = field(default=None, repr=False)
    """The enterprise's new API key, shown once (``None`` if it had one already)."""
    api_key_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body = self.enterprise.as_dict()
        body["issued"] = list(self.issued)
        body["api_key"] = self.api_key
        body["api_key_id"] = self.api_key_id
        return body


def plan(
    context: ServiceContext, enterprise: EnterpriseData, kinds: Sequence[str] | None
) -> SealSetPlan:
    """Check a request and draw its images before any transaction (drawing takes about a
    second a seal; inside the transaction it would hold the write lock)."""
    specs = resolve_kinds(kinds)
    font = load_font()
    for spec in specs:
        text = spec.text_of(enterprise.name, enterprise.legal_representative)
        image = spec.image(enterprise.credit_code)
        # a representative code: only its digits are drawn, and the font has them all
        geometry(image.design(text, spec.kind, "41010001000001"), font)
        seals.predraw_new(context, text, spec.kind, image)
    return SealSetPlan(enterprise, specs)


def _holder(session: Session, data: EnterpriseData, licence_number: str, actor: str) -> Enterprise:
    """The enterprise row (and its seal-holding department), found or made."""
    enterprise = registry.find(session, data.credit_code)
    if enterprise is not None:
        if enterprise.closed_at is not None:
            raise InvalidTransition(
                f"the seals of {data.credit_code} were revoked with its licence "
                f"{enterprise.licence_number}; a closed enterprise gets no new seals"
            )
        if enterprise.licence_number != licence_number:
            raise Conflict(
                f"{data.credit_code} holds seals under licence {enterprise.licence_number}, "
                f"not {licence_number}"
            )
        return enterprise
    department = departments.add(
        session,
        code=data.credit_code,
        name=data.name,
        kind=DepartmentKind.ENTERPRISE,
        credit_code=data.credit_code,
        actor=actor,
        source=f"营业执照 {licence_number}",
    )
    enterprise = Enterprise(
        credit_code=data.credit_code,
        name=data.name,
        legal_representative=data.legal_representative,
        department=department,
        licence_number=licence_number,
    )
    session.add(enterprise)
    session.flush()
    return enterprise


def issue_in(
    context: ServiceContext,
    session: Session,
    planned: SealSetPlan,
    *,
    licence_number: str,
    actor: str,
) -> SealSet:
    """Make the planned set in ``session`` (see the module docstring); a kind the
    enterprise already holds an unrevoked seal of is refused (:class:`Conflict`)."""
    data = planned.enterprise
    enterprise = _holder(session, data, licence_number, actor)
    holder = enterprise.department.code
    held = set(
        session.scalars(
            select(Seal.kind).where(
                Seal.department_id == enterprise.department_id,
                Seal.status != SealStatus.REVOKED.value,
            )
        )
    )
    doubled = [spec.kind for spec in planned.kinds if spec.kind in held]
    if doubled:
        raise Conflict(f"{data.credit_code} already holds a {'、'.join(doubled)}")
    issued = []
    with seals.joined(context, session, actor=actor) as batch:
        for spec in planned.kinds:
            seal = batch.issue(
                holder,
                spec.kind,
                algorithm=ALGORITHM,
                text=spec.text_of(data.name, data.legal_representative),
                image=spec.image(data.credit_code),
            )
            issued.append(seal.code)
    token = key_id = None
    if not apikeys.has_active_key(session, holder):
        row, token = apikeys.create_api_key(
            session,
            name=f"{data.name} 企业印章",
            scopes=set(_API_KEY_SCOPES),
            department=holder,
            actor=actor,
        )
        key_id = row.key_id
    audit.append(
        session,
        action="enterprise.seals",
        actor=actor,
        department_code=holder,
        details={
            "credit_code": data.credit_code,
            "licence_number": licence_number,
            "seal_codes": issued,
            "kinds": [spec.kind for spec in planned.kinds],
            "api_key": key_id,
        },
    )
    session.flush()
    return SealSet(registry.show(session, data.credit_code), tuple(issued), token, key_id)


def _valid_business_licence(session: Session, credit_code: str) -> Licence:
    """The valid 营业执照 of ``credit_code`` (its current version). The data column is
    JSON text: a substring match narrows the rows, the parsed ``uscc`` decides."""
    rows = session.scalars(
        select(Licence).where(
            Licence.template == BUSINESS_LICENCE,
            Licence.status == LicenceStatus.VALID.value,
            Licence.data.contains(credit_code, autoescape=True),
        )
    )
    for row in rows:
        if json.loads(row.data).get("uscc") == credit_code:
            return row
    raise NotFound(f"no valid 营业执照 (business_licence) for 统一社会信用代码 {credit_code}")


def business_licence_number(context: ServiceContext, credit_code: str) -> str:
    """The number of the valid 营业执照 of ``credit_code`` (:class:`NotFound` if none)."""
    with context.database.session(read_only=True) as session:
        return _valid_business_licence(
            session, departments.normalise_credit_code(credit_code)
        ).number


def issue_for_licence(
    context: ServiceContext, credit_code: str, kinds: Sequence[str] | None, *, actor: str
) -> SealSet:
    """The seal set of an enterprise whose 营业执照 was issued before (all kinds it lacks
    for ``None``): made from the licence's data, in one transaction."""
    credit_code = departments.normalise_credit_code(credit_code)
    with context.database.session(read_only=True) as session:
        licence = _valid_business_licence(session, credit_code)
        data = EnterpriseData.from_licence(json.loads(licence.data))
        number = licence.number
        held = set()
        if registry.find(session, credit_code) is not None:
            shown = registry.show(session, credit_code).seals
            held = {v.kind for v in shown if v.status != SealStatus.REVOKED}
    if kinds is None:
        kinds = [spec.kind for spec in resolve_kinds(None) if spec.kind not in held]
        if not kinds:
            raise Conflict(f"{credit_code} already holds every seal of the set")
    planned = plan(context, data, kinds)
    with context.database.session() as session:
        return issue_in(context, session, planned, licence_number=number, actor=actor)


def issue_licence_with_seals(
    context: ServiceContext,
    template: str,
    data: Mapping[str, Any],
    seal_codes: Sequence[str],
    kinds: Sequence[str],
    *,
    actor: str,
    **options: Any,
) -> tuple[LicenceRecord, SealSet]:
    """ "1+X": issue a 营业执照 and the enterprise's seal set in the licence's transaction.

    ``options`` go to :func:`sealsvc.licences.issue_licence` (format, level, sealer …).
    """
    if template != BUSINESS_LICENCE:
        raise InvalidInput(
            f"enterprise_seals come with a 营业执照 ({BUSINESS_LICENCE}), not with {template!r}"
        )
    planned = plan(context, EnterpriseData.from_licence(data), kinds)
    made: list[SealSet] = []

    def make_set(session: Session, licence: Licence) -> None:
        made.append(issue_in(context, session, planned, licence_number=licence.number, actor=actor))

    record = issue_licence(
        context, template, data, seal_codes, actor=actor, in_transaction=make_set, **options
    )
    return record, made[0]
