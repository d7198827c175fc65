"""Every check a sealed OFD must pass, by our own reader and the service's verifier.

A sealing test (service, API, licence issue) checks all its signatures the same way."""

from __future__ import annotations

from ofd.package import OfdPackage
from ofd.signatures import (
    check_references,
    read_signature,
    read_signatures,
)
from pki import ses
from sealsvc.context import ServiceContext
from sealsvc.verification.ses import SesVerifier


def verify_all_seals(context: ServiceContext, package: OfdPackage, skip: int = 0) -> dict[str, str]:
    """Each signature after the first ``skip`` (others' seals) checked: References, the
    Seal.esl copy and every SES layer, then the service's verifier; path → esID."""
    verifier = SesVerifier(context)
    found = {}
    for entry in read_signatures(package).entries[skip:]:
        signature = read_signature(package, entry)
        assert check_references(package, signature).intact, entry.path
        parsed = ses.parse_signature(package[signature.signed_value_path])
        assert parsed.property_info == "/" + entry.path
        assert parsed.seal.der == package[signature.seal_path]
        check = ses.check_signature(parsed, signature.signature_xml)
        assert check.ok, check.failures
        verified = verifier.verify(parsed.der, signature.signature_xml)
        assert verified.passed, verified.to_dict()
        found[entry.path] = parsed.seal.es_id
    return found
