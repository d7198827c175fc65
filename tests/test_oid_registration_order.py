"""asn1crypto names registered by pyHanko work whatever the import order (pki/asn1/oids.py).

pyHanko's ``register_cms_attribute`` writes asn1crypto's OID → name table only; a name
table built before it ran used to miss ``signer_attributes_v2`` and friends, and encoding a
parsed attribute again then failed.  Each case runs in a fresh interpreter, since the
order is the whole point.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROGRAM = """
from asn1crypto import cms, x509
cms.CMSAttributeType("signing_time")  # asn1crypto builds its name → OID tables now
x509.ExtensionId("key_usage")
{pki}
import pyhanko.sign.ades.cades_asn1  # registers signer_attributes_v2, ... afterwards
attribute = cms.CMSAttributeType("signer_attributes_v2")
parsed = cms.CMSAttributeType.load(attribute.dump())
assert parsed.native == "signer_attributes_v2", parsed.native
assert parsed.dump(force=True) == attribute.dump()
assert cms.CMSAttributeType.unmap("signer_attributes_v2") == attribute.dotted
print(attribute.dotted)
"""


def run(with_pki: bool) -> subprocess.CompletedProcess[str]:
    program = PROGRAM.format(pki="import pki.asn1.oids" if with_pki else "")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pyhanko_names_encode_after_the_tables_were_built_with_pki_loaded() -> None:
    result = run(with_pki=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.4.0.19122.1.1"  # ETSI EN 319 122-1 signer-attributes-v2


def test_without_pki_the_upstream_order_problem_shows() -> None:
    """The control: the same program without our fix fails, so the test above can fail."""
    result = run(with_pki=False)
    assert result.returncode != 0
    assert "signer_attributes_v2" in result.stderr
