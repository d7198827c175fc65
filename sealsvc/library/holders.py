"""Holder codes (持证主体代码): what the library looks licences up by.

A holder is named by a 统一社会信用代码 (GB 32100) or by a person's ID number.  The credit
code of a company is public and kept as it is; an ID number is personal data and is never
stored, logged or audited in clear: the library keeps and compares only its salted hash
(:func:`sealsvc.identity.id_number_hash`, the same one enrolled persons have), and shows its
masked form.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from sealsvc import creditcode
from sealsvc.errors import InvalidInput
from sealsvc.identity import id_number_hash, mask_id_number

__all__ = ["CREDIT_CODE", "ID_CARD", "HolderCode", "holder_code"]

CREDIT_CODE = "统一社会信用代码"
ID_CARD = "居民身份证"


@dataclass(frozen=True)
class HolderCode:
    """A holder code as the library keeps it."""

    key: str
    """What lookups compare: the credit code itself, or the salted hash of the ID number."""
    shown: str
    """What answers and the audit log may show: the credit code, or the masked ID number."""
    kind: str
    """:data:`CREDIT_CODE` or :data:`ID_CARD`."""


def holder_code(session: Session, value: object) -> HolderCode:
    """The library's form of ``value``: a valid credit code, else a valid 居民身份证 number.

    :class:`InvalidInput` (which never repeats the value: it may be an ID number) otherwise.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("holder_code is required: a 统一社会信用代码 or an ID number")
    text = value.strip().upper()
    if creditcode.is_valid(text):
        return HolderCode(key=text, shown=text, kind=CREDIT_CODE)
    try:
        return HolderCode(
            key=id_number_hash(session, text), shown=mask_id_number(text), kind=ID_CARD
        )
    except InvalidInput:
        raise InvalidInput(
            "holder_code is neither a valid 统一社会信用代码 (GB 32100) nor a valid 居民身份证 "
            "number (GB 11643)"
        ) from None
