"""Is an embedded file a program?  Told by its first bytes, and by its name.

An archive record must not carry software (DA/T 70 安全性: no malicious code; a program in
a licence has no business there).  The content decides first — the executable formats of
Windows (``MZ``), Linux (ELF), macOS (Mach-O) and scripts (``#!``) — because a name is
the sender's to choose; a name with an executable or script extension fails as well,
since a reader's viewer would offer to run it.
"""

from __future__ import annotations

__all__ = ["executable_reason"]

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "Windows 可执行程序"),
    (b"\x7fELF", "ELF 可执行程序"),
    (b"\xcf\xfa\xed\xfe", "Mach-O 可执行程序"),
    (b"\xce\xfa\xed\xfe", "Mach-O 可执行程序"),
    (b"\xfe\xed\xfa\xcf", "Mach-O 可执行程序"),
    (b"\xca\xfe\xba\xbe", "Mach-O/Java 程序"),
    (b"#!", "脚本程序"),
)
_EXTENSIONS = frozenset(
    [
        ".exe",
        ".dll",
        ".com",
        ".scr",
        ".bat",
        ".cmd",
        ".msi",
        ".ps1",
        ".vbs",
        ".vbe",
        ".js",
        ".jse",
        ".wsf",
        ".hta",
        ".jar",
        ".sh",
        ".elf",
        ".app",
        ".apk",
        ".lnk",
        ".pif",
        ".cpl",
    ]
)


def executable_reason(name: str, head: bytes) -> str | None:
    """Why a file named ``name`` starting with ``head`` (≥ 4 bytes) is a program, or ``None``."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return f"是{kind}"
    dot = name.rfind(".")
    if dot >= 0 and name[dot:].lower() in _EXTENSIONS:
        return f"的扩展名 {name[dot:]} 表明是可执行程序"
    return None
