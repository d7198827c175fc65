"""GB/T 36904 licence identifiers: the check character, parsing, the codes they are built of.

The check character is ISO 7064 MOD 37,36; it is tested against the standard's published
example and the identifier example of issue 17, against the *verification* rule of
ISO 7064 (a different formula from the one that computes it), and for the errors the
system is made to catch (every single substitution, every adjacent transposition).
The identifier's credit codes pass the GB 32100 check, in the templates, in the seed of
departments and in what is issued.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from sealsvc import creditcode, departments
from sealsvc.db import Database, alembic_config
from sealsvc.errors import InvalidInput
from sealsvc.licences.identifier import (
    ISO7064_ALPHABET,
    PREFIX,
    LicenceIdentifier,
    mod37_36_check_char,
)
from sealsvc.licences.templates import TemplateSpec, list_templates
from sealsvc.models import Licence

ISSUE_EXAMPLE = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"
REPOSITORY = Path(__file__).resolve().parents[1]


def _iso7064_verifies(text_with_check: str) -> bool:
    """ISO 7064 hybrid-system check of a complete string (check character included).

    Runs the recurrence over every character, check character too; the string is valid
    when the last intermediate sum S = (P + value) mod 36 is 1.
    """
    product, remainder = 36, 0
    for char in text_with_check:
        remainder = (product + ISO7064_ALPHABET.index(char)) % 36
        product = 2 * (remainder or 36) % 37
    return remainder == 1


# --- ISO 7064 MOD 37,36 ---------------------------------------------------------------------


def test_iso7064_published_example() -> None:
    # ISO 7064 MOD 37,36 example string; the same value python-stdnum documents.
    assert mod37_36_check_char("A12425GABC1234002") == "M"
    assert _iso7064_verifies("A12425GABC1234002M")
    assert not _iso7064_verifies("A12425GABC1234002N")


def test_issue_example_check_character_is_over_the_fields_without_dots() -> None:
    fields = "11100000000013338W01111430000006122244L20230000403001"
    assert mod37_36_check_char(fields) == "U"
    # Not over the prefix as well: that gives another character.
    assert mod37_36_check_char(PREFIX.replace(".", "") + fields) != "U"


@pytest.mark.parametrize(
    "text", ["0", "Z", "A12425GABC1234002", "11410100EXAMPL012Q20241231", "9" * 60]
)
def test_computed_check_character_passes_the_iso_verification(text: str) -> None:
    assert _iso7064_verifies(text + mod37_36_check_char(text))


def test_every_single_substitution_and_adjacent_transposition_is_caught() -> None:
    fields = "11100000000013338W01111430000006122244L20230000403001"
    check = mod37_36_check_char(fields)
    for position, original in enumerate(fields):
        for other in ISO7064_ALPHABET:
            if other != original:
                changed = fields[:position] + other + fields[position + 1 :]
                assert mod37_36_check_char(changed) != check, (position, other)
    for position in range(len(fields) - 1):
        a, b = fields[position], fields[position + 1]
        if a != b:
            swapped = fields[:position] + b + a + fields[position + 2 :]
            assert mod37_36_check_char(swapped) != check, position


@pytest.mark.parametrize("bad", ["a", "-", ".", "中"])
def test_characters_outside_the_alphabet_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="upper-case letter"):
        mod37_36_check_char("123" + bad)


# --- the identifier -------------------------------------------------------------------------


def test_an_identifier_from_another_issuer_checks_too() -> None:
    # A 电子证照标识 quoted as sample data in a public licence-catalogue schema: another
    # type (032), another issuer, a 7-digit serial; its check character is F.
    text = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
    identifier = LicenceIdentifier.parse(text)
    assert (identifier.serial, identifier.check_char) == ("2430599", "F")
    assert str(identifier) == text


def test_issue_example_parses_into_its_fields_and_prints_back() -> None:
    identifier = LicenceIdentifier.parse(ISSUE_EXAMPLE)
    assert identifier.type_code == "11100000000013338W011"
    assert identifier.issuer_code == "11430000006122244L"
    assert identifier.serial == "20230000403"
    assert identifier.version == 1
    assert identifier.check_char == "U"
    assert str(identifier) == ISSUE_EXAMPLE
    assert LicenceIdentifier.parse(f"  {ISSUE_EXAMPLE}\n") == identifier


@pytest.mark.parametrize("check", sorted(set(ISO7064_ALPHABET) - {"U"}))
def test_every_wrong_check_character_is_refused(check: str) -> None:
    with pytest.raises(InvalidInput, match=r"check character is .*expected 'U'"):
        LicenceIdentifier.parse(ISSUE_EXAMPLE[:-1] + check)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ISSUE_EXAMPLE.replace("1.2.156.3005.2", "1.2.156.3005.3"), "not a GB/T 36904"),
        (ISSUE_EXAMPLE.replace(".001.", ".01."), "not a GB/T 36904"),
        (ISSUE_EXAMPLE.replace(".001.", ".000."), "1-999"),
        (ISSUE_EXAMPLE.lower(), "not a GB/T 36904"),
        (ISSUE_EXAMPLE.replace("W011", "W01"), "not a GB/T 36904"),
        (ISSUE_EXAMPLE + ".U", "not a GB/T 36904"),
        ("", "not a GB/T 36904"),
        ("x" * 10_000, "not a GB/T 36904"),
        # The issuer's credit code with a wrong GB 32100 check character (L → K):
        (ISSUE_EXAMPLE.replace("2244L", "2244K"), "issuer code .* GB 32100"),
        # The type code's defining body likewise (W → X):
        (ISSUE_EXAMPLE.replace("3338W", "3338X"), "type code .*GB 32100"),
    ],
)
def test_malformed_identifiers_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        LicenceIdentifier.parse(text)
    assert len(str(caught.value)) < 400  # a hostile string is not echoed in full


def test_parse_refuses_what_is_not_text() -> None:
    with pytest.raises(InvalidInput, match="is text"):
        LicenceIdentifier.parse(42)  # type: ignore[arg-type]


def test_for_licence_uses_the_number_without_separators_and_three_digit_versions() -> None:
    identifier = LicenceIdentifier.for_licence(
        type_code="11100000000013338W011",
        issuer_code="11430000006122244L",
        number="ZZ-2024-000123",
        version=12,
    )
    text = str(identifier)
    assert text.startswith(f"{PREFIX}.11100000000013338W011.11430000006122244L.ZZ2024000123.012.")
    assert LicenceIdentifier.parse(text) == identifier
    assert _iso7064_verifies(text[len(PREFIX) + 1 :].replace(".", ""))


@pytest.mark.parametrize("version", [0, 1000, -1, True])
def test_versions_that_do_not_fit_three_digits_are_refused(version: int) -> None:
    with pytest.raises(InvalidInput, match="version"):
        LicenceIdentifier("11100000000013338W011", "11430000006122244L", "1", version)


# --- the codes it is made of ----------------------------------------------------------------


def test_bundled_templates_declare_valid_example_type_codes() -> None:
    codes = {}
    for template in list_templates():
        licence_type = template.spec.licence_type
        assert licence_type is not None, template.name
        assert licence_type.example, "the shipped codes are examples, and say so"
        assert creditcode.is_valid(licence_type.code[:18])
        assert "EXAMPL" in licence_type.code
        codes[template.name] = licence_type.code
        shown = [e for e in template.spec.elements if getattr(e, "field", "") == "@identifier"]
        assert len(shown) == 1, f"{template.name} prints its identifier once"
    assert len(set(codes.values())) == len(codes), "each template its own type code"


def _spec(**changes) -> dict:
    raw = json.loads((REPOSITORY / "templates/business_licence/template.json").read_text("utf-8"))
    raw.update(changes)
    return raw


def test_template_with_a_bad_type_code_does_not_load() -> None:
    bad = {**_spec()["licence_type"], "code": "11100000EXAMPLE03X001"}
    with pytest.raises(ValueError, match="GB 32100"):
        TemplateSpec.model_validate(_spec(licence_type=bad))


def test_identifier_element_needs_a_licence_type() -> None:
    raw = _spec()
    del raw["licence_type"]
    with pytest.raises(ValueError, match="'@identifier', which needs licence_type"):
        TemplateSpec.model_validate(raw)


def test_template_licence_type_fields_must_be_declared() -> None:
    licence_type = {**_spec()["licence_type"], "validity_field": "nonexistent"}
    with pytest.raises(ValueError, match="validity_field 'nonexistent'"):
        TemplateSpec.model_validate(_spec(licence_type=licence_type))
    licence_type = {k: v for k, v in _spec()["licence_type"].items() if k != "holder_id_type"}
    with pytest.raises(ValueError, match="holder_id_type"):
        TemplateSpec.model_validate(_spec(licence_type=licence_type))


def test_seed_credit_codes_are_valid_unique_and_marked_as_examples() -> None:
    seed = departments.load_seed()
    codes = [d.credit_code for d in seed.departments]
    assert all(code is not None and creditcode.is_valid(code) for code in codes)
    assert len(set(codes)) == len(codes)
    assert all("EXAMPL" in code for code in codes if code)
    raw = json.loads((REPOSITORY / "sealsvc/data/departments.json").read_text("utf-8"))
    assert raw["credit_codes"].startswith("EXAMPLES ONLY")


@pytest.mark.parametrize(
    "bad", ["11410100EXAMPL012R", "11410100EXAMPL012", "11410100EXAMPL012QQ", "I1410100EXAMPL012Q"]
)
def test_a_department_credit_code_must_pass_gb32100(bad: str) -> None:
    with pytest.raises(InvalidInput, match="GB 32100"):
        departments.normalise_credit_code(bad)
    assert departments.normalise_credit_code(" 11410100exampl012q ") == "11410100EXAMPL012Q"


def test_a_seed_with_a_wrong_credit_code_is_refused(tmp_path: Path) -> None:
    raw = json.loads((REPOSITORY / "sealsvc/data/departments.json").read_text("utf-8"))
    raw["departments"][3]["credit_code"] = raw["departments"][3]["credit_code"][:-1] + "0"
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), "utf-8")
    with pytest.raises(InvalidInput, match=r"seed file .*GB 32100"):
        departments.load_seed(path)


def test_alphabet_is_digits_then_capitals() -> None:
    assert string.digits + string.ascii_uppercase == ISO7064_ALPHABET


# --- revision 0004 on a database that already holds licences ----------------------------------


def test_revision_0004_keeps_old_licences_without_identifier_and_import_fills_codes(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        database.migrate("0003")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO departments (code, name, kind, active, created_at) "
                    "VALUES ('ZZ-D26', '郑州市市场监督管理局', 'department', :t, :at)"
                ),
                {"t": True, "at": datetime(2024, 1, 1, tzinfo=UTC)},
            )
            for index in (1, 2):
                connection.execute(
                    text(
                        "INSERT INTO licences (number, version, template, data, seal_codes, "
                        "document_sha256, file_name, status, issued_at) VALUES (:n, 1, "
                        "'business_licence', '{}', '[]', :sha, 'f.pdf', 'valid', :at)"
                    ),
                    {"n": f"YYZZ00{index}", "sha": str(index) * 64,
                     "at": datetime(2024, 1, 1, tzinfo=UTC)},
                )  # fmt: skip
        database.migrate()
        with database.session() as session:
            # Two licences without identifier: NULLs do not collide under the unique index.
            assert session.scalars(select(Licence.identifier)).all() == [None, None]
            assert departments.get(session, "ZZ-D26").credit_code is None
            departments.import_seed(session, actor="test:migration")
        seed = {d.code: d.credit_code for d in departments.load_seed().departments}
        with database.session(read_only=True) as session:
            assert departments.get(session, "ZZ-D26").credit_code == seed["ZZ-D26"]
        with database.engine.begin() as connection:  # and back down
            command.downgrade(alembic_config(connection), "0003")
        with database.engine.connect() as connection:
            assert "identifier" not in {
                c["name"] for c in inspect(connection).get_columns("licences")
            }
    finally:
        database.dispose()
