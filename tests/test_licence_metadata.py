"""GB/T 36903 metadata and the GB/T 36904 identifier on real issued licences.

The metadata record is derived from each template's example; it is read back out of the
sealed PDF's XMP with pyHanko's XMP parser (not our writer), with the PDF/A extension
schema that declares it checked against the values; the identifier is found in the page
text by ``pdftotext`` and in the record, the CLI and the audit log; a re-issue bumps its
version; a department without a 统一社会信用代码 cannot issue and the refusal is audited.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from lxml import etree
from pyhanko.pdf_utils.metadata.xmp_xml import parse_xmp
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select

from sealsvc import audit, departments, seals
from sealsvc.context import ServiceContext
from sealsvc.creditcode import check_char
from sealsvc.errors import Conflict, InvalidInput
from sealsvc.licences import (
    LicencePage,
    QrCode,
    get_licence,
    get_licence_pdf,
    issue_licence,
    load_template,
    reissue_licence,
    render_licence,
)
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.licences.issuer import IssuerRefused
from sealsvc.licences.metadata import (
    LONG_TERM,
    XMP_NAMESPACE,
    XMP_PREFIX,
    licence_metadata,
    validity_period,
)
from sealsvc.licences.pipeline import record_metadata
from sealsvc.models import Department, Licence
from sealsvc.pades import Level

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

ACTOR = "test:licence-metadata"
ISSUED = datetime(2024, 3, 15, 2, 30, tzinfo=UTC)
ISSUER_CODE = "11410100EXAMPL012Q"
PDFA_PROPERTY = "http://www.aiim.org/pdfa/ns/property#"
PDFA_SCHEMA = "http://www.aiim.org/pdfa/ns/schema#"


def _metadata(template_name: str, **changes: str):
    template = load_template(template_name)
    data = template.validate_data({**template.example, **changes})
    identifier = LicenceIdentifier.for_licence(
        type_code=template.spec.licence_type.code,
        issuer_code=ISSUER_CODE,
        number="YYZZ2024031500000001",
        version=1,
    )
    return (
        template,
        data,
        licence_metadata(
            template,
            number="YYZZ2024031500000001",
            data=data,
            identifier=identifier,
            issued_at=ISSUED,
        ),
    )


def _xmp_packet(pdf: bytes) -> bytes:
    reader = PdfFileReader(io.BytesIO(pdf))
    return reader.root["/Metadata"].get_object().data


def _xmp_values(pdf: bytes) -> dict[str, str]:
    """Our namespace's properties as pyHanko's XMP parser reads them."""
    values = {}
    for root in parse_xmp(io.BytesIO(_xmp_packet(pdf))):
        for name, value in root:
            if name.ns == XMP_NAMESPACE:
                values[name.local_name] = value.value
    return values


# --- the record -------------------------------------------------------------------------------


def test_business_licence_metadata_has_every_element() -> None:
    template, data, metadata = _metadata("business_licence")
    assert metadata.as_dict() == {
        "name": "营业执照",
        "type_code": template.spec.licence_type.code,
        "number": "YYZZ2024031500000001",
        "identifier": str(
            LicenceIdentifier(
                template.spec.licence_type.code, ISSUER_CODE, "YYZZ2024031500000001", 1
            )
        ),
        "issuer_name": data["authority"],
        "issuer_code": ISSUER_CODE,
        "issue_date": data["issue_date"],
        "holder_name": data["name"],
        "holder_code": data["uscc"],
        "holder_code_type": "统一社会信用代码",
        "valid_from": "2019-06-18",  # 营业期限 2019年06月18日至长期
        "valid_until": LONG_TERM,
    }
    pairs = dict(metadata.pairs())
    assert pairs["证照标识"] == metadata.identifier and pairs["有效期截止日期"] == "长期"
    assert list(pairs)[:4] == ["证照名称", "证照类型代码", "证照编号", "证照标识"]


def test_templates_without_holder_code_or_period_leave_them_out() -> None:
    _, data, metadata = _metadata("construction_permit")
    record = metadata.as_dict()
    assert "holder_code" not in record and "holder_code_type" not in record
    assert (record["valid_from"], record["valid_until"]) == (data["issue_date"], LONG_TERM)
    assert record["holder_name"] == data["builder"]


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("2024年03月12日至2029年03月11日", ("2024-03-12", "2029-03-11")),
        ("2019年6月8日至长期", ("2019-06-08", LONG_TERM)),
        ("2024-05-06至2054-05-05", ("2024-05-06", "2054-05-05")),
        ("2024年05月06日起2054年05月05日止", ("2024-05-06", "2054-05-05")),
        (" 2024 年 05 月 06 日 至 长期 ", ("2024-05-06", LONG_TERM)),
        ("长期", ("2024-01-01", LONG_TERM)),  # from the issue date
    ],
)
def test_validity_periods_are_read_in_the_forms_licences_print(text: str, period: tuple) -> None:
    template = load_template("admin_permit_decision")
    assert validity_period(template, {"valid_period": text}, "2024-01-01") == period


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("五年", "must state the validity period"),
        ("2024年02月30日至2029年03月11日", "does not exist"),
        ("2029年03月11日至2024年03月12日", "ends before it starts"),
        ("2024年03月12日至", "must state the validity period"),
    ],
)
def test_a_period_that_cannot_be_read_is_refused_naming_the_field(text: str, message: str) -> None:
    template = load_template("admin_permit_decision")
    with pytest.raises(InvalidInput, match=rf"有效期限 \(valid_period\) .*{message}"):
        validity_period(template, {"valid_period": text}, "2024-01-01")


def test_metadata_of_a_licence_without_identifier_omits_its_elements() -> None:
    template = load_template("real_estate_certificate")
    data = template.validate_data(template.example)
    metadata = licence_metadata(
        template, number="BDC000001", data=data, identifier=None, issued_at=ISSUED
    )
    assert {"identifier", "issuer_code"}.isdisjoint(metadata.as_dict())
    assert metadata.type_code == template.spec.licence_type.code


# --- in the PDF ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["business_licence", "admin_permit_decision", "real_estate_certificate"]
)
def test_xmp_carries_the_metadata_with_its_pdfa_extension_schema(name: str) -> None:
    template, data, metadata = _metadata(name)
    page = LicencePage(
        metadata.number, 1, data, QrCode.encode("http://x/verify/1?h=2"), ISSUED,
        metadata.identifier, metadata,
    )  # fmt: skip
    pdf = render_licence(template, page)
    expected = {
        prop: value
        for prop, value, _ in metadata.xmp_schema().properties  # property names, values
    }
    assert _xmp_values(pdf) == expected
    assert expected["Identifier"] == metadata.identifier and expected["Name"] == template.title

    packet = etree.fromstring(re.sub(rb"<\?xpacket[^>]*\?>", b"", _xmp_packet(pdf)).strip())
    namespaces = {"pdfaSchema": PDFA_SCHEMA, "pdfaProperty": PDFA_PROPERTY}
    schema = packet.xpath(
        "//*[pdfaSchema:namespaceURI = $uri]", namespaces=namespaces, uri=XMP_NAMESPACE
    )
    assert len(schema) == 1, "one extension schema declares the namespace"
    assert schema[0].findtext(f"{{{PDFA_SCHEMA}}}prefix") == XMP_PREFIX
    described = schema[0].xpath(".//pdfaProperty:name/text()", namespaces=namespaces)
    assert sorted(described) == sorted(expected), "PDF/A: every property is described"
    types = set(schema[0].xpath(".//pdfaProperty:valueType/text()", namespaces=namespaces))
    assert types == {"Text"}
    assert b"<pdfaid:part>2</pdfaid:part>" in pdf and b"<pdfaid:conformance>B" in pdf


def test_hostile_values_are_escaped_in_the_xmp() -> None:
    template, data, metadata = _metadata("business_licence", name="<甲&乙>公司</rdf:RDF>")
    page = LicencePage(
        metadata.number, 1, data, QrCode.encode("http://x/verify/1?h=2"), ISSUED,
        metadata.identifier, metadata,
    )  # fmt: skip
    assert _xmp_values(render_licence(template, page))["HolderName"] == "<甲&乙>公司</rdf:RDF>"


# --- issued licences -------------------------------------------------------------------------


def _last(context: ServiceContext, action: str) -> dict:
    """The latest audit entry of ``action``, details parsed."""
    with context.database.session(read_only=True) as session:
        return audit.entry_to_dict(audit.query(session, action=action)[-1])


def _market_seal(context: ServiceContext) -> str:
    return seals.issue(context, department="郑州市市场监督管理局", kind="公章", actor=ACTOR).code


def _credit_code(context: ServiceContext, name: str) -> str:
    with context.database.session(read_only=True) as session:
        return departments.get(session, name).credit_code


def test_issued_licence_carries_identifier_and_metadata_and_reissue_bumps_the_version(
    sqlite_seal_context: ServiceContext, tmp_path: Path
) -> None:
    context = sqlite_seal_context
    code = _market_seal(context)
    template = load_template("business_licence")
    record = issue_licence(context, template, template.example, [code], actor=ACTOR,
                           level=Level.B_B)  # fmt: skip
    identifier = LicenceIdentifier.parse(record.identifier)
    assert identifier.type_code == template.spec.licence_type.code
    assert identifier.issuer_code == _credit_code(context, "郑州市市场监督管理局")
    assert (identifier.serial, identifier.version) == (record.number, 1)

    pdf = get_licence_pdf(context, record.number)
    (tmp_path / "v1.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-raw", tmp_path / "v1.pdf", "-"], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip
    assert record.identifier in re.sub(r"\s+", "", text), "printed on the licence"
    assert "电子证照标识" in text
    values = _xmp_values(pdf)  # the sealed file, incremental updates and all
    assert values["Identifier"] == record.identifier
    assert values["IssuerCode"] == identifier.issuer_code
    assert values["HolderCode"] == template.example["uscc"]

    assert _last(context, "licence.issue")["details"]["identifier"] == record.identifier

    second = reissue_licence(context, record.number, {"legal_representative": "刘振华"},
                             actor=ACTOR, level=Level.B_B)  # fmt: skip
    bumped = LicenceIdentifier.parse(second.identifier)
    assert bumped.version == 2 and bumped.serial == identifier.serial
    assert second.identifier.endswith(f".002.{bumped.check_char}")
    assert _xmp_values(get_licence_pdf(context, record.number))["Identifier"] == second.identifier


def test_a_department_without_credit_code_cannot_issue_and_the_refusal_is_audited(
    sqlite_seal_context: ServiceContext,
) -> None:
    context = sqlite_seal_context
    code = _market_seal(context)
    with context.database.session() as session:
        department = departments.get(session, "郑州市市场监督管理局")
        saved, department.credit_code = department.credit_code, None
    template = load_template("business_licence")
    with pytest.raises(
        IssuerRefused, match=r"no 统一社会信用代码 recorded.*set-credit-code ZZ-D26"
    ):
        issue_licence(context, template, template.example, [code], actor=ACTOR, level=Level.B_B)
    refused = _last(context, "licence.refused")["details"]
    assert (refused["field"], refused["seal_codes"]) == ("seals.0", [code])

    # Importing the seed again fills in the missing code (and only that), audited.
    with context.database.session() as session:
        result = departments.import_seed(session, actor=ACTOR)
        assert result.created == ()
    assert _credit_code(context, "郑州市市场监督管理局") == saved
    filled = _last(context, "dept.credit_code")
    assert filled["department_code"] == "ZZ-D26"
    assert filled["details"] == {"old_credit_code": None, "new_credit_code": saved}
    with context.database.session(read_only=True) as session:
        assert session.scalar(select(func.count()).where(Department.credit_code.is_(None))) == 0
    record = issue_licence(context, template, template.example, [code], actor=ACTOR,
                           level=Level.B_B)  # fmt: skip
    assert LicenceIdentifier.parse(record.identifier).issuer_code == saved


def test_sealctl_shows_the_identifier_and_metadata_and_sets_credit_codes(
    sqlite_seal_context: ServiceContext, sealctl: Callable[..., Result], tmp_path: Path
) -> None:
    context = sqlite_seal_context
    code = _market_seal(context)
    template = load_template("business_licence")
    data = tmp_path / "data.json"
    data.write_text(json.dumps(template.example, ensure_ascii=False))
    result = sealctl("licence", "issue", "--template", "business_licence", "--data", str(data),
                     "--seal", code, "--level", "B-B", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    issued = json.loads(result.stdout)
    shown = json.loads(sealctl("licence", "show", issued["number"], "--json").stdout)
    assert shown["identifier"] == issued["identifier"]
    assert shown["metadata"]["identifier"] == issued["identifier"]
    assert shown["metadata"]["holder_code_type"] == "统一社会信用代码"
    assert shown["verification"]["identifier"] == issued["identifier"]
    human = sealctl("licence", "show", issued["number"]).stdout
    assert issued["identifier"] in human and "有效期截止日期" in human
    described = sealctl("template", "show", "business_licence").stdout
    assert f"licence type code (GB/T 36904): {template.spec.licence_type.code}" in described
    assert "an EXAMPLE" in described
    summary = json.loads(sealctl("template", "show", "business_licence", "--json").stdout)
    assert summary["licence_type"]["example"] is True

    current = _credit_code(context, "ZZ-D26")
    wrong = current[:-1] + ("0" if current[-1] != "0" else "1")
    result = sealctl("dept", "set-credit-code", "ZZ-D26", wrong, "--json")
    assert result.exit_code == 1 and "GB 32100" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    first17 = "11410100EXAMPL999"  # another example code
    new = first17 + check_char(first17)
    result = sealctl("dept", "set-credit-code", "ZZ-D26", new.lower(), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["credit_code"] == new
    listed = json.loads(sealctl("dept", "list", "--json").stdout)
    assert {d["code"]: d["credit_code"] for d in listed}["ZZ-D26"] == new
    changed = _last(context, "dept.credit_code")["details"]
    assert changed == {"old_credit_code": current, "new_credit_code": new}
    # Licences issued before keep their identifier; new ones carry the new code.
    again = sealctl("licence", "issue", "--template", "business_licence", "--data", str(data),
                    "--seal", code, "--level", "B-B", "--json")  # fmt: skip
    assert again.exit_code == 0, again.stderr
    assert f".{new}." in json.loads(again.stdout)["identifier"]
    assert (
        json.loads(sealctl("licence", "show", issued["number"], "--json").stdout)["identifier"]
        == issued["identifier"]
    )


def test_numbers_that_differ_only_in_separators_cannot_share_an_identifier(
    sqlite_seal_context: ServiceContext,
) -> None:
    context = sqlite_seal_context
    code = _market_seal(context)
    template = load_template("business_licence")
    first = issue_licence(context, template, template.example, [code], actor=ACTOR,
                          level=Level.B_B, number="ZZ-TEST-000001")  # fmt: skip
    assert LicenceIdentifier.parse(first.identifier).serial == "ZZTEST000001"
    with pytest.raises(Conflict, match=r"identifier 1\.2\.156\.3005\.2\..*ZZTEST000001\.001"):
        issue_licence(context, template, template.example, [code], actor=ACTOR,
                      level=Level.B_B, number="ZZTEST000001")  # fmt: skip
    assert not list((context.settings.data_dir / "licences").glob(".*.tmp"))


def test_a_record_whose_metadata_no_longer_derives_stays_readable(
    sqlite_seal_context: ServiceContext, sealctl: Callable[..., Result]
) -> None:
    context = sqlite_seal_context
    code = _market_seal(context)
    template = load_template("business_licence")
    record = issue_licence(context, template, template.example, [code], actor=ACTOR,
                           level=Level.B_B)  # fmt: skip
    assert record_metadata(context, record).identifier == record.identifier
    with context.database.session() as session:  # data stored before the validity rule
        row = session.scalars(select(Licence).where(Licence.number == record.number)).one()
        row.data = json.dumps({**record.data, "term": "长期有效"}, ensure_ascii=False)
    stale = get_licence(context, record.number)
    assert record_metadata(context, stale) is None
    shown = sealctl("licence", "show", record.number, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["metadata"] is None
    assert json.loads(shown.stdout)["identifier"] == record.identifier


def test_a_validity_that_does_not_read_is_refused_before_sealing(
    sqlite_seal_context: ServiceContext,
) -> None:
    context = sqlite_seal_context
    code = _market_seal(context)
    template = load_template("business_licence")
    data = {**template.example, "term": "长期有效"}
    with pytest.raises(InvalidInput, match=r"营业期限 \(term\) must state the validity period"):
        issue_licence(context, template, data, [code], actor=ACTOR, level=Level.B_B)
    with context.database.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Licence)) == 0
        assert not audit.query(session, action="seal.use")
