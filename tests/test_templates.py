"""Licence templates and rendering, checked with poppler and zbar (no database, no seals).

Every shipped template must load, accept its ``example.json``, and render a page whose
text (``pdftotext``) shows every value, whose CJK fonts are embedded (``pdffonts``) and
whose QR code decodes (``zbarimg`` on a ``pdftoppm -r 200`` rendering) to the URL given.
Bad data must be refused with a message naming the field.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sealsvc.config import Settings
from sealsvc.creditcode import check_char as gb32100_check_char
from sealsvc.errors import InvalidInput, NotFound
from sealsvc.licences import (
    LicencePage,
    QrCode,
    data_hash,
    list_templates,
    load_template,
    render_licence,
    verification_url,
)
from sealsvc.licences.layout import wrap_text
from sealsvc.licences.templates import BUNDLED_TEMPLATES, masked

TEMPLATES = ["admin_permit_decision", "business_licence", "construction_permit",
             "real_estate_certificate"]  # fmt: skip
ISSUED = datetime(2024, 3, 15, 2, 30, tzinfo=UTC)
NUMBER = "YYZZ2024031512345678"


def _page(template_name: str, data: dict[str, str], version: int = 1) -> LicencePage:
    short = data_hash(NUMBER, version, template_name, data)
    url = verification_url("https://zwfw.zhengzhou.example", NUMBER, short)
    return LicencePage(NUMBER, version, data, QrCode.encode(url), ISSUED)


def _render(name: str) -> tuple[bytes, LicencePage]:
    template = load_template(name)
    page = _page(name, template.validate_data(template.example))
    return render_licence(template, page), page


def _tool(*argv: str | Path) -> str:
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True).stdout


def test_bundled_templates_are_listed() -> None:
    names = [t.name for t in list_templates()]
    assert names == TEMPLATES
    titles = {t.title for t in list_templates()}
    assert {"营业执照", "行政许可决定书", "建筑工程施工许可证", "不动产登记证明"} <= titles


@pytest.mark.parametrize("name", TEMPLATES)
def test_rendered_page_shows_every_value_with_embedded_cjk_font_and_a_qr_code(
    name: str, tmp_path: Path
) -> None:
    pdf, page = _render(name)
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    text = re.sub(r"\s+", "", _tool("pdftotext", "-raw", path, "-"))
    template = load_template(name)
    for key, shown in template.display(page.data).items():
        # -raw keeps content-stream order, so wrapped lines of one value stay together
        assert re.sub(r"\s+", "", shown) in text, f"{key}: {shown!r} missing"
    fonts = _tool("pdffonts", path).splitlines()[2:]
    assert fonts, "no fonts listed"
    for row in fonts:
        assert re.search(r"(UMing|ZenHei)", row), row
        assert re.search(r"\byes\s+yes\s+yes\b", row), f"not embedded+subset+unicode: {row}"
    _tool("pdftoppm", "-png", "-r", "200", "-singlefile", path, tmp_path / "page")
    decoded = _tool("zbarimg", "-q", "--raw", tmp_path / "page.png").strip()
    assert decoded == page.qr.text


def test_rendering_is_deterministic_and_pdfa_parts_are_present() -> None:
    first, _ = _render("business_licence")
    second, _ = _render("business_licence")
    assert first == second
    assert b"/OutputIntents" in first and b"/GTS_PDFA1" in first
    xmp = re.search(rb"<\?xpacket begin.*?<\?xpacket end=\"w\"\?>", first, re.S)
    assert xmp, "the XMP packet must be stored unfiltered (PDF/A)"
    packet = xmp.group(0).decode()
    assert "<pdfaid:part>2</pdfaid:part>" in packet
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in packet
    assert "<xmp:CreateDate>2024-03-15T10:30:00+08:00</xmp:CreateDate>" in packet
    assert b"/CreationDate (D:20240315103000+08'00')" in first
    assert b"Helvetica" not in first


def test_different_licences_get_different_document_ids() -> None:
    template = load_template("business_licence")
    data = template.validate_data(template.example)
    ids = set()
    for version in (1, 2):
        pdf = render_licence(template, _page("business_licence", data, version))
        ids.add(re.search(rb"/ID\s*\[(<[0-9a-fA-F]+>|\(.*?\))", pdf, re.S).group(1))
    assert len(ids) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": None}, r"名称 \(name\) is required"),
        (
            {"business_scope": "经营" * 401},
            r"经营范围 \(business_scope\) has 802 characters; at most 800",
        ),
        ({"uscc": "91410100MA9GH7K2X"}, r"统一社会信用代码 \(uscc\) must be 18 位统一社会信用代码"),
        ({"uscc": "91410100MA9GH7K2XA"}, r"统一社会信用代码 \(uscc\): the check character"),
        ({"established": "2019-02-30"}, r"成立日期 \(established\): not a calendar date"),
        ({"established": "18/06/2019"}, r"成立日期 \(established\) must be a date YYYY-MM-DD"),
        ({"registered_capital": 5000.5}, r"注册资本 \(registered_capital\): an amount must be"),
        ({"registered_capital": "5,000"}, r"注册资本 \(registered_capital\): an amount must be"),
        ({"colour": "red"}, r"unknown field 'colour'"),
        ({"name": "   "}, r"名称 \(name\) must not be empty"),
    ],
)
def test_bad_data_is_refused_naming_the_field(change: dict, message: str) -> None:
    template = load_template("business_licence")
    data = {**template.example, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(InvalidInput, match=message):
        template.validate_data(data)


def test_all_problems_are_reported_at_once() -> None:
    template = load_template("business_licence")
    with pytest.raises(InvalidInput) as caught:
        template.validate_data({"name": "x"})
    for label in ("统一社会信用代码", "法定代表人", "经营范围", "登记机关"):
        assert label in str(caught.value)


def test_money_and_dates_are_canonical_and_displayed_the_chinese_way() -> None:
    template = load_template("business_licence")
    data = template.validate_data({**template.example, "registered_capital": 300})
    assert data["registered_capital"] == "300"
    shown = template.display(data)
    assert shown["registered_capital"] == "300万元人民币"
    assert shown["established"] == "2019年06月18日"
    assert (
        template.validate_data({**template.example, "registered_capital": "12.50"})[
            "registered_capital"
        ]
        == "12.50"
    )


@pytest.mark.parametrize(
    "code",
    # published codes of well-known companies (GB 32100-2015 check character)
    ["914403001922038216", "91330100716105852F", "91440300708461136T", "91110000802100433B"],
)
def test_gb32100_check_character_matches_real_codes(code: str) -> None:
    assert gb32100_check_char(code[:17]) == code[17]


def test_text_too_long_for_its_box_is_refused() -> None:
    template = load_template("construction_permit")
    data = template.validate_data({**template.example, "builder": "郑州地铁集团有限公司" * 8})
    with pytest.raises(InvalidInput, match=r"建设单位 \(builder\) does not fit its box"):
        render_licence(template, _page("construction_permit", data))


def test_wrap_keeps_latin_words_and_closing_punctuation() -> None:
    def measure(s: str) -> float:
        return float(len(s))

    lines = wrap_text("许可证编号为JY14101960012345。请按照", 8, measure)
    assert "JY14101960012345。" in lines  # the word whole, the full stop not at a line start
    assert all(not line.startswith("。") for line in lines)
    assert "".join(lines) == "许可证编号为JY14101960012345。请按照"


def _copy_template(target: Path, new_name: str) -> Path:
    shutil.copytree(BUNDLED_TEMPLATES / "business_licence", target / new_name)
    return target / new_name


def test_adding_a_template_needs_no_code(settings: Settings) -> None:
    directory = _copy_template(settings.data_dir / "templates", "shop_licence")
    spec = json.loads((directory / "template.json").read_text())
    spec["title"] = "个体工商户营业执照"
    (directory / "template.json").write_text(json.dumps(spec, ensure_ascii=False))
    template = load_template("shop_licence", settings)
    assert template.title == "个体工商户营业执照"
    assert "shop_licence" in [t.name for t in list_templates(settings)]
    pdf = render_licence(template, _page("shop_licence", template.validate_data(template.example)))
    assert pdf.startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s["elements"].append({"type": "field", "field": "nope", "x_mm": 1,
                                         "y_mm": 1, "width_mm": 5}), "undeclared field 'nope'"),
        (lambda s: s["seals"][0].update(x_mm=296), "off the page"),
        (lambda s: s["fields"][0].update(pattern="(["), "pattern of field 'uscc' is invalid"),
        (lambda s: s.update(colour="red"), "colour"),
        (lambda s: s["fields"].append(dict(s["fields"][0])), "fields declared twice: uscc"),
        (lambda s: s["paper_fields"].update(holder_id="id_card"),
         "paper_fields names undeclared field 'id_card'"),
    ],
)  # fmt: skip
def test_broken_template_is_reported_when_loaded(settings: Settings, edit, message: str) -> None:
    directory = _copy_template(settings.data_dir / "templates", "broken")
    spec = json.loads((directory / "template.json").read_text())
    edit(spec)
    (directory / "template.json").write_text(json.dumps(spec, ensure_ascii=False))
    with pytest.raises(InvalidInput, match=re.escape(message)):
        load_template("broken", settings)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("91410100MA9GH7K2XR", "914101********K2XR"),  # 统一社会信用代码: region code, last 4
        ("410105198001011234", "410105********1234"),  # a 身份证号 the same way
        ("A12345", "A****5"),
        ("AB", "A*"),
    ],
)
def test_holder_codes_are_masked_on_the_qr_page(value: str, shown: str) -> None:
    assert masked(value) == shown and len(masked(value)) == len(value)


def test_paper_fields_are_declared_by_each_bundled_template() -> None:
    for template in list_templates():
        paper = dict(template.paper(template.validate_data(template.example)))
        declared = template.spec.paper_fields
        assert declared is not None, template.name
        assert template.fields[declared.holder].label in paper
        date_field = template.fields[declared.issue_date]
        assert date_field.type == "date"
        assert re.fullmatch(r"\d{4}年\d{2}月\d{2}日", paper[date_field.label])


def test_template_names_cannot_escape_the_search_path(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="template name"):
        load_template("../etc", settings)
    with pytest.raises(NotFound, match="no template named 'missing'"):
        load_template("missing", settings)


def test_qr_module_count_fits_the_printed_size() -> None:
    """Every module must be at least 0.4 mm wide to scan from paper or a phone screen."""
    for template in list_templates():
        code = _page(template.name, template.validate_data(template.example)).qr
        modules = len(code.modules) + 8
        assert template.spec.qr.size_mm / modules >= 0.4
