"""NIST PKITS cases from ``tests/data/pkits/manifest.tsv``, run through :mod:`pki.chain`.

Shared by ``tests/test_pkits.py`` and ``scripts/pkits_table.py`` (which writes
``docs/pkits.md``), so the table in the docs is what the test ran, not typed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import crl, x509
from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy, PKIXValidationParams

from pki.chain import ChainError, validate_path

PKITS = Path(__file__).parent / "data" / "pkits"
ANCHOR = "TrustAnchorRootCertificate.crt"
ANCHOR_CRL = "TrustAnchorRootCRL.crl"
AT = datetime(2020, 6, 1, tzinfo=UTC)
"""Inside every PKITS certificate's validity (2010-01-01 .. 2030-12-31, per the README)."""

PKITS_ALGORITHMS = DisallowWeakAlgorithmsPolicy(
    weak_hash_algos=frozenset({"md2", "md5"}), dsa_key_size_threshold=1024
)
"""PKITS 2011 signs its DSA cases (4.1.4-4.1.6) with 1024-bit dsa-with-SHA1; the suite
tests RFC 5280 path rules, not the algorithm policy, which refuses both by default."""


@dataclass(frozen=True)
class Case:
    """One manifest line: a PKITS section, the expected verdict, and the inputs."""

    id: str
    expected: str  # valid | invalid
    ee: str
    certs: tuple[str, ...]
    crls: tuple[str, ...]
    revocation: bool
    settings: dict

    @property
    def section(self) -> str:
        """``4.1.1`` for ``40101``."""
        return f"{self.id[0]}.{int(self.id[1:3])}.{int(self.id[3:5])}"

    @property
    def label(self) -> str:
        extra = "" if not self.settings else " " + json.dumps(self.settings, sort_keys=True)
        return f"{self.section}{extra}"


def cases() -> list[Case]:
    """Every manifest line, in order."""
    out = []
    for line in (PKITS / "manifest.tsv").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        ident, expected, ee, certs, crls, revocation, settings = fields
        out.append(
            Case(
                ident,
                expected,
                ee,
                tuple(c for c in certs.split(",") if c),
                tuple(c for c in crls.split(",") if c),
                revocation == "yes",
                {} if settings == "-" else json.loads(settings),
            )
        )
    return out


def params(settings: dict) -> PKIXValidationParams | None:
    """The RFC 5280 §6.1.1 initial inputs of a manifest line."""
    if not settings:
        return None
    return PKIXValidationParams(
        user_initial_policy_set=frozenset(settings.get("user_initial_policy_set", ["any_policy"])),
        initial_policy_mapping_inhibit=settings.get("initial_policy_mapping_inhibit", False),
        initial_explicit_policy=settings.get("initial_explicit_policy", False),
        initial_any_policy_inhibit=settings.get("initial_any_policy_inhibit", False),
    )


Loader = Callable[[str], bytes]
"""``name`` (a file of certs/ or crls/, e.g. ``certs/GoodCACert.crt``) → DER."""


def rsa_loader(name: str) -> bytes:
    """The original NIST files."""
    return (PKITS / name).read_bytes()


def run(case: Case, load: Loader = rsa_loader) -> tuple[str, str]:
    """(``valid`` | ``invalid``, the engine's reason) for one case."""
    cert = lambda n: x509.Certificate.load(load(f"certs/{n}"))  # noqa: E731
    crl_names = (*case.crls, ANCHOR_CRL) if case.revocation else ()
    try:
        validate_path(
            cert(case.ee),
            [cert(n) for n in case.certs],
            [cert(ANCHOR)],
            AT,
            required_key_usage=(),
            crls=[crl.CertificateList.load(load(f"crls/{n}")) for n in crl_names],
            check_revocation=case.revocation,
            params=params(case.settings),
            algorithm_policy=PKITS_ALGORITHMS,
        )
    except ChainError as exc:
        return "invalid", f"{exc.reason.value}: {exc}"
    return "valid", ""


def results(load: Loader = rsa_loader) -> Iterator[tuple[Case, str, str]]:
    for case in cases():
        yield (case, *run(case, load))
