"""Naming the characters a name may not contain, so that a user can find and fix them.

A seal's or department's name is pasted from documents and web pages, which carry
characters nobody sees: a zero-width space (U+200B) or a bell (U+0007) looks like nothing
in a terminal, so "contains a control character" leaves the user guessing.  The messages
here name each such character by its code point and Unicode name, and a character the
seal font lacks (a rare CJK character such as 𠮷, U+20BB7) by itself and its code point.
"""

from __future__ import annotations

import unicodedata

__all__ = ["code_point", "invisible_characters", "shown"]

_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (zero-width, direction marks), surrogate, private-use, unassigned, and
line or paragraph separators: categories that draw nothing or nothing a reader can check."""


def code_point(char: str) -> str:
    """``U+20BB7`` — the notation Unicode charts and character pickers search by."""
    return f"U+{ord(char):04X}"


def shown(char: str) -> str:
    """A visible character quoted with its code point: ``'𠮷' (U+20BB7)``."""
    return f"'{char}' ({code_point(char)})"


def _invisible(char: str) -> str:
    name = unicodedata.name(char, "")
    if not name and unicodedata.category(char) == "Cc":
        name = "control character"
    return f"{code_point(char)} ({name})" if name else code_point(char)


def invisible_characters(text: str, what: str) -> str | None:
    """A message naming every invisible or control character of ``text`` and where it is
    (1-based), or ``None`` if there is none; ``what`` names the text ("the seal name")."""
    found = [
        f"{_invisible(char)} at position {index}"
        for index, char in enumerate(text, start=1)
        if unicodedata.category(char) in _INVISIBLE
    ]
    if not found:
        return None
    return f"{what} contains invisible or control characters: {', '.join(found)}; remove them"
