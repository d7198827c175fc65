"""Signed attributes sealsvc adds to the SignerInfo of an OFD ``Type="Sign"`` signature.

The appearance (a PNG) and the signer's claimed role, written by
:func:`sealsvc.ofd_sealing.sign_ofd` and read back by the OFD verifier: kept apart from the
sealing module so that verifying does not load the signing stack.

pyHanko's ``cades_asn1`` declares signer-attributes-v2 to asn1crypto; importing it here is
what lets :func:`claimed_role` parse the attribute's value.
"""

from __future__ import annotations

from asn1crypto import cms, x509
from pyhanko.sign.ades.cades_asn1 import SignerAttributesV2

__all__ = ["APPEARANCE_ATTRIBUTE", "SIGNER_ATTRIBUTES_V2", "claimed_role", "role_attribute"]

APPEARANCE_ATTRIBUTE = "2.25.91680163154938162833982584757341647624"
"""Signed attribute of a ``Type="Sign"`` SignerInfo holding its appearance, a PNG in an
OCTET STRING (an OID of our own under the UUID arc, X.667: no standard attribute carries a
signature's picture).  Unknown to a verifier, it is one more signed attribute."""
SIGNER_ATTRIBUTES_V2 = "0.4.0.19122.1.1"
"""ETSI EN 319 122-1 signer-attributes-v2, where a claimed role goes (as in CAdES)."""


def role_attribute(role: str) -> cms.CMSAttribute:
    """The signer-attributes-v2 attribute claiming ``role`` (ETSI EN 319 122-1 §5.2.6.1):
    an X.509 ``role`` whose name is a directory name with that common name."""
    name = x509.GeneralName(name="directory_name", value=x509.Name.build({"common_name": role}))
    claimed = cms.AttCertAttribute(
        {"type": "role", "values": [cms.RoleSyntax({"role_name": name})]}
    )
    return cms.CMSAttribute(
        {
            # By OID: asn1crypto maps names to OIDs through a table it builds once, and
            # pyHanko's registration of this name is missing from it whenever some
            # attribute was named (pki.cms does) before pyHanko's CAdES module loaded.
            "type": SIGNER_ATTRIBUTES_V2,
            "values": [SignerAttributesV2({"claimed_attributes": [claimed]})],
        }
    )


def claimed_role(signer_info: cms.SignerInfo) -> str | None:
    """The role a SignerInfo's signer-attributes-v2 claims (the common name of its first
    ``role``'s directory name), or ``None``: what :func:`sign_ofd` writes, read back."""
    for attribute in signer_info["signed_attrs"] or []:
        if attribute["type"].dotted != SIGNER_ATTRIBUTES_V2:
            continue
        for claimed in attribute["values"][0]["claimed_attributes"] or []:
            if claimed["type"].native != "role":
                continue
            name = claimed["values"][0]["role_name"]
            if name.name == "directory_name":
                common = name.chosen.native.get("common_name")
                return common if isinstance(common, str) else None
    return None
