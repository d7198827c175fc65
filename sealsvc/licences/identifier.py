"""The national electronic-licence identifier (电子证照标识, GB/T 36904-2018).

Every 电子证照 carries one identifier that names it across platforms::

    1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check character>
    1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U

* ``1.2.156.3005.2`` — the OID arc of electronic licences (:data:`PREFIX`);
* type code (证照类型代码) — the 统一社会信用代码 of the body that defines the licence type
  followed by three characters numbering its types; configured per template
  (``licence_type.code`` in ``template.json``);
* issuer code (发证机构代码) — the issuing department's 统一社会信用代码 (the department
  registry's ``credit_code``; for a jointly sealed licence, the first seal's department);
* serial (顺序号) — the licence number without its ``-`` separators: the number is already
  unique and is what the paper and the QR page show, so the identifier repeats it;
* version (版本号) — three digits, the licence version (a re-issue, 变更, bumps it);
* check character (校验位) — ISO 7064 MOD 37,36 over the five fields written one after
  another without the dots (the prefix is not included: that is what makes the standard's
  example come out as ``U``).

Both credit codes must pass the GB 32100 check, so a mistyped department code is refused
at issue instead of being printed on a licence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sealsvc import creditcode
from sealsvc.errors import InvalidInput

__all__ = [
    "ISO7064_ALPHABET",
    "PREFIX",
    "LicenceIdentifier",
    "check_type_code",
    "mod37_36_check_char",
]

PREFIX = "1.2.156.3005.2"
"""The OID arc GB/T 36904 puts in front of every electronic-licence identifier."""

ISO7064_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""The 36 characters of ISO 7064 MOD 37,36, in the order of their values 0…35."""

_TYPE_CODE = re.compile(r"[0-9A-Z]{18}[0-9A-Z]{3}")
_SERIAL = re.compile(r"[0-9A-Z]{1,64}")
_IDENTIFIER = re.compile(
    re.escape(PREFIX) + r"\.(?P<type_code>[0-9A-Z]{21})\.(?P<issuer_code>[0-9A-Z]{18})"
    r"\.(?P<serial>[0-9A-Z]{1,64})\.(?P<version>[0-9]{3})\.(?P<check>[0-9A-Z])"
)


def mod37_36_check_char(text: str) -> str:
    """The ISO 7064 MOD 37,36 check character of ``text`` (digits and A–Z).

    The hybrid system of ISO 7064 §7 with M = 36: start with P = M; for each character
    S = (P + value) mod M (M if that is 0) and P = 2S mod (M + 1); the check character
    is the one whose value makes the final (P + value) mod M equal 1.
    """
    product = 36
    for char in text:
        value = ISO7064_ALPHABET.find(char)
        if value < 0:
            raise InvalidInput(f"{char!r} is not a digit or an upper-case letter A-Z")
        product = 2 * ((product + value) % 36 or 36) % 37
    return ISO7064_ALPHABET[(37 - product) % 36]


def check_type_code(code: str) -> str:
    """``code`` if it is a well-formed 证照类型代码, else :class:`InvalidInput` saying why."""
    if not isinstance(code, str) or not _TYPE_CODE.fullmatch(code):
        raise InvalidInput(
            f"licence type code {code!r} must be 21 characters: the 统一社会信用代码 of the "
            "body defining the type, then 3 digits or upper-case letters"
        )
    if not creditcode.is_valid(code[:18]):
        raise InvalidInput(
            f"licence type code {code!r}: its first 18 characters are not a valid "
            "统一社会信用代码 (GB 32100 check character)"
        )
    return code


def _check_issuer_code(code: str) -> str:
    if not creditcode.is_valid(code):
        raise InvalidInput(
            f"issuer code {code!r} is not a valid 统一社会信用代码 "
            "(18 characters, GB 32100 check character)"
        )
    return code


@dataclass(frozen=True)
class LicenceIdentifier:
    """One GB/T 36904 identifier, its fields checked (see the module docstring)."""

    type_code: str
    """证照类型代码: the defining body's credit code and a 3-character type number."""
    issuer_code: str
    """发证机构代码: the issuing department's 统一社会信用代码."""
    serial: str
    """顺序号: the licence number without its ``-`` separators."""
    version: int
    """版本号, 1…999 (printed with three digits)."""

    def __post_init__(self) -> None:
        check_type_code(self.type_code)
        _check_issuer_code(self.issuer_code)
        if not isinstance(self.serial, str) or not _SERIAL.fullmatch(self.serial):
            raise InvalidInput(
                f"licence serial {self.serial!r} must be 1-64 digits or upper-case letters"
            )
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise InvalidInput(f"licence version {self.version!r} must be an integer")
        if not 1 <= self.version <= 999:
            raise InvalidInput(
                f"licence version {self.version} does not fit the identifier's 3 digits (1-999)"
            )

    @classmethod
    def for_licence(
        cls, *, type_code: str, issuer_code: str, number: str, version: int
    ) -> LicenceIdentifier:
        """The identifier of version ``version`` of licence ``number``."""
        return cls(type_code, issuer_code, number.replace("-", ""), version)

    @property
    def check_char(self) -> str:
        """ISO 7064 MOD 37,36 over the fields without dots (not over the prefix)."""
        return mod37_36_check_char(
            f"{self.type_code}{self.issuer_code}{self.serial}{self.version:03d}"
        )

    def __str__(self) -> str:
        return (
            f"{PREFIX}.{self.type_code}.{self.issuer_code}.{self.serial}"
            f".{self.version:03d}.{self.check_char}"
        )

    @classmethod
    def parse(cls, text: str) -> LicenceIdentifier:
        """Read an identifier, checking its structure, both credit codes and its check character.

        Raises :class:`InvalidInput` saying which part is wrong.
        """
        if not isinstance(text, str):
            raise InvalidInput(f"a licence identifier is text, not {type(text).__name__}")
        match = _IDENTIFIER.fullmatch(text.strip())
        if match is None:
            shown = text if len(text) <= 120 else text[:119] + "…"
            raise InvalidInput(
                f"{shown!r} is not a GB/T 36904 licence identifier ({PREFIX}.<type code, 21>"
                ".<issuer credit code, 18>.<serial>.<version, 3 digits>.<check character>)"
            )
        identifier = cls(
            match["type_code"], match["issuer_code"], match["serial"], int(match["version"])
        )
        if match["check"] != identifier.check_char:
            raise InvalidInput(
                f"licence identifier check character is {match['check']!r}, expected "
                f"{identifier.check_char!r} (ISO 7064 MOD 37,36): the identifier is mistyped"
            )
        return identifier
