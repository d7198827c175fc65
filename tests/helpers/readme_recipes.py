"""Shell recipes of the README, read where users read them.

A recipe the README shows must work; tests run the block itself rather than a copy."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)


def _section(heading: str) -> str:
    """The README's text from ``## heading`` to the next second-level heading."""
    text = README.read_text(encoding="utf-8")
    assert f"## {heading}" in text, f"no section {heading!r} in the README"
    return text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def pdfsig_recipe() -> str:
    """The first ``sh`` block of the README's pdfsig section."""
    blocks = SH_BLOCK.findall(_section("Checking a sealed PDF with pdfsig"))
    assert blocks, "no shell block in the README's pdfsig section"
    return blocks[0]


def quick_start_commands() -> str:
    """The ``sh`` block of the Quick start section that talks to the service."""
    blocks = [block for block in SH_BLOCK.findall(_section("Quick start")) if "curl" in block]
    assert len(blocks) == 1, "the Quick start should have one sh block of curl examples"
    return blocks[0]
