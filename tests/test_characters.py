"""Names with characters no font prints, or nobody sees, are refused by naming them.

Through ``sealctl`` on a data directory with real CAs (``sqlite_seal_context``) and the
real seal font: 𠮷 (U+20BB7, CJK Extension B) is missing from AR PL UMing, so the seal
image cannot be drawn; a zero-width space and a bell are invisible in a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from helpers.pdf_fixtures import chinese_pdf

from sealsvc.characters import code_point, invisible_characters, shown
from sealsvc.context import ServiceContext
from sealsvc.sealimage.design import SealDesign
from sealsvc.sealimage.errors import SealImageError
from sealsvc.sealimage.fonts import load_font
from sealsvc.sealimage.layout import layout

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

Sealctl = Callable[..., Result]
RARE = "\U00020bb7"  # 𠮷


@pytest.fixture
def cli(sqlite_seal_context: ServiceContext, sealctl: Sealctl) -> Sealctl:
    return sealctl


def _refused(result: Result) -> str:
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return " ".join(result.stderr.split())


def test_code_points_are_written_as_unicode_charts_do() -> None:
    assert code_point(RARE) == "U+20BB7"
    assert code_point("\u0007") == "U+0007"
    assert shown(RARE) == f"'{RARE}' (U+20BB7)"
    assert invisible_characters("郑州市人民政府", "name") is None
    message = invisible_characters("郑州\u200b市\u0007", "the name")
    assert message is not None
    assert "U+200B (ZERO WIDTH SPACE) at position 3" in message
    assert "U+0007 (control character) at position 5" in message


def test_a_character_the_font_lacks_is_named_with_its_code_point() -> None:
    font = load_font()
    assert ord(RARE) not in font._ttf.face.charToGlyph  # the premise: UMing lacks 𠮷
    with pytest.raises(SealImageError) as caught:
        layout(SealDesign(f"郑州市{RARE}祥区人民政府", "公章", None), font)
    message = str(caught.value)
    assert shown(RARE) in message
    assert "/" not in message  # no font path: the message reaches API clients


def test_seal_issue_names_the_missing_glyph(cli: Sealctl) -> None:
    text = f"郑州市{RARE}祥区人民政府"
    result = cli("seal", "issue", "--dept", "ZZ-FTZ", "--kind", "公章", "--text", text)
    message = _refused(result)
    assert "U+20BB7" in message and RARE in message


@pytest.mark.parametrize(
    ("char", "named"),
    [("\u200b", "U+200B (ZERO WIDTH SPACE)"), ("\u0007", "U+0007 (control character)")],
)
def test_invisible_characters_get_their_own_message(cli: Sealctl, char: str, named: str) -> None:
    text = f"郑州市{char}人民政府"
    message = _refused(cli("seal", "issue", "--dept", "ZZ-FTZ", "--kind", "公章", "--text", text))
    assert f"{named} at position 4" in message
    assert "invisible or control" in message
    department = _refused(
        cli("dept", "add", f"郑州市测试{char}局", "--code", "ZZ-T99", "--kind", "department")
    )
    assert f"{named} at position 6" in department


def test_cli_refuses_a_stamp_outside_the_page(cli: Sealctl, tmp_path: Path) -> None:
    issued = cli("seal", "issue", "--dept", "ZZ-FTZ", "--kind", "公章", "--json")
    assert issued.exit_code == 0, issued.stderr
    code = json.loads(issued.stdout)["code"]
    source = tmp_path / "in.pdf"
    source.write_bytes(chinese_pdf(1))
    out = tmp_path / "out.pdf"
    message = _refused(
        cli(
            "sign", str(source), "--seal", code, "--level", "B-B", "--at", "250,100", "-o", str(out)
        )
    )
    assert "--at X,Y = 250,100 mm does not fit on page 1 (210 × 297 mm)" in message
    assert not out.exists()
