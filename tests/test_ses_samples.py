"""Real third-party seals: every SignedValue.dat and Seal.esl of the OFD samples (ofdrw's
test resources, tests/data/ofd-samples/) parses, re-encodes byte for byte, and reaches,
layer by layer, what independent tools say about it (the README there).

The expectations below also render the sample table of docs/ses.md; a test keeps the two
equal, and ``python tests/test_ses_samples.py`` rewrites the table after a deliberate change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers.ses_fixtures import SAMPLES, sample_seal_files, sample_signatures

from pki import ses
from pki.asn1 import ses as asn1

DOC = Path(__file__).resolve().parent.parent / "docs" / "ses.md"
BEGIN, END = "<!-- ses-samples:begin -->", "<!-- ses-samples:end -->"

OK, NOT_CHECKED = "passed", "not_checked"
_ALL_OK = (OK, OK, OK, OK, OK, NOT_CHECKED)

EXPECTED: dict[str, tuple[int, tuple[str, ...]] | str] = {
    # label: (SES version, one entry per pki.ses.Layer), or the error a non-SES file gets.
    "SESV4SignDoc.ofd:Sign_0": (4, (OK, OK, OK, OK, "failed: seal_expired", NOT_CHECKED)),
    "h.ofd:Sign_0": (4, _ALL_OK),
    "h.ofd:Sign_1": (4, _ALL_OK),
    "n.ofd:Sign_0": (
        1,
        (
            OK,
            "failed: signature_invalid",
            "failed: not_in_cert_list",
            "failed: hash_mismatch",
            OK,
            NOT_CHECKED,
        ),
    ),
    "testImageNotFound.ofd:Sign_0": "UnsupportedSesVersion",
    "testImageNotFound.ofd:Sign_1": "UnsupportedSesVersion",
    "v4signed.ofd:Sign_0": (4, _ALL_OK),
}
"""What ``check_signature(parse_signature(SignedValue.dat), Signature.xml)`` gives."""

_SAMPLES = sample_signatures()


def _outcome(result: ses.LayerResult) -> str:
    if result.status is ses.LayerStatus.FAILED:
        return f"failed: {result.reason.value}"
    return result.status.value


def _observed(signed_value: bytes, signature_xml: bytes) -> tuple[int, tuple[str, ...]] | str:
    try:
        signature = ses.parse_signature(signed_value)
    except ses.SesError as exc:
        return type(exc).__name__
    check = ses.check_signature(signature, signature_xml)
    return signature.version, tuple(_outcome(r) for r in check.layers)


def test_every_sample_signature_is_expected() -> None:
    assert sorted(s.label for s in _SAMPLES) == sorted(EXPECTED)


@pytest.mark.parametrize("sample", _SAMPLES, ids=lambda s: s.label)
def test_each_sample_reaches_the_independent_tools_results(sample) -> None:
    assert _observed(sample.signed_value, sample.signature_xml) == EXPECTED[sample.label]


@pytest.mark.parametrize(
    "sample", [s for s in _SAMPLES if not isinstance(EXPECTED[s.label], str)], ids=lambda s: s.label
)
def test_each_ses_sample_re_encodes_byte_for_byte(sample) -> None:
    signature = ses.parse_signature(sample.signed_value)
    assert signature.der == sample.signed_value
    spec = asn1.SESSignature if signature.version == 4 else asn1.SESSignatureV1
    assert spec.load(sample.signed_value).dump() == sample.signed_value
    assert sample.signed_value.find(signature.seal.der) > 0  # the seal is inside, unchanged
    assert signature.property_info == f"/Doc_0/Signs/{sample.sign}/Signature.xml"


def test_a_non_der_issuer_encoding_is_kept_and_still_verifies() -> None:
    """v4signed's seal writes ``critical FALSE`` explicitly (DER omits defaults): a
    re-encoding would change the signed bytes, so we check the bytes as received."""
    sample = next(s for s in _SAMPLES if s.ofd == "v4signed.ofd")
    parsed = asn1.SESSignature.load(sample.signed_value)
    assert parsed.dump(force=True) != sample.signed_value
    signature = ses.parse_signature(sample.signed_value)
    assert signature.seal.ext_datas == (ses.SesExtension("1.2.156.10197.6.7.2.2.1", False, b"2.1"),)
    assert ses.check_signature(signature).ok


def test_the_v1_sample_reads_its_fields() -> None:
    sample = next(s for s in _SAMPLES if s.ofd == "n.ofd")
    signature = ses.parse_signature(sample.signed_value)
    assert signature.version == signature.seal.version == 1
    assert signature.seal.name == "某某省人力资源和社会测试章"
    assert signature.seal.vid == "dms360.cn"
    assert signature.time_info == b"2020-01-25T07:31:56.377Z"
    assert signature.signing_time.isoformat() == "2020-01-25T07:31:56.377000+00:00"
    assert signature.seal.picture.type == "PNG"
    assert signature.seal.picture.data.startswith(b"\x89PNG")
    assert signature.seal.ext_datas[0].critical is True
    check = ses.check_signature(signature, sample.signature_xml)
    assert "does not verify" in check[ses.Layer.SIGNER_SIGNATURE].message


def test_the_expired_sample_names_its_window() -> None:
    sample = next(s for s in _SAMPLES if s.ofd == "SESV4SignDoc.ofd")
    result = ses.check_signature(ses.parse_signature(sample.signed_value))[ses.Layer.VALIDITY]
    assert result.reason is ses.Reason.SEAL_EXPIRED
    assert result.reason.sub_indication.name == "EXPIRED"
    assert "2026-08-04 02:08:09Z is after the seal's validity" in result.message
    assert "2022-04-22 02:09:00Z" in result.message


@pytest.mark.parametrize("label", sorted(sample_seal_files()))
def test_every_seal_file_parses_re_encodes_and_its_maker_signature_verifies(label: str) -> None:
    der = sample_seal_files()[label]
    seal = ses.parse_seal(der)
    assert seal.der == der
    assert ses.check_seal(seal).passed
    beside = next(s for s in _SAMPLES if s.label == label)
    assert ses.parse_signature(beside.signed_value).seal.der == der


# --- the table in docs/ses.md ----------------------------------------------------------------


def _independent_tools() -> dict[str, str]:
    """The README's "independent tools" column, by file name."""
    rows = {}
    for line in (SAMPLES / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].endswith(".ofd"):
            rows[cells[0]] = cells[2]
    return rows


def render_table() -> str:
    tools = _independent_tools()
    head = ["sample", "independent tools (README)", "SES", *(layer.value for layer in ses.Layer)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, expected in sorted(EXPECTED.items()):
        ofd = label.split(":")[0]
        if isinstance(expected, str):
            cells = ["—", f"{expected} (a CMS SignedData, not SES)"] + [""] * (len(head) - 4)
        else:
            cells = [f"v{expected[0]}", *expected[1]]
        lines.append("| " + " | ".join([f"`{label}`", tools[ofd], *cells]) + " |")
    return "\n".join(lines)


def _doc_block(text: str) -> str:
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def test_docs_sample_table_is_current() -> None:
    assert _doc_block(DOC.read_text(encoding="utf-8")) == render_table(), (
        "docs/ses.md is out of date: run python tests/test_ses_samples.py"
    )


if __name__ == "__main__":  # rewrite the table in docs/ses.md
    text = DOC.read_text(encoding="utf-8")
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    DOC.write_text(f"{before}{BEGIN}\n{render_table()}\n{END}{after}", encoding="utf-8")
    sys.exit(0)
