"""The one place where the Chinese commercial cryptography OIDs are taught to asn1crypto.

asn1crypto keeps its OID tables as class-level ``_map`` dictionaries; adding the SM2/SM3
entries there (instead of comparing dotted strings all over the code) lets every
``Certificate``, ``CertificateList``, ``SignedData`` and ``TSTInfo`` we parse or build
name the algorithms ``sm3`` and ``sm2_sm3`` like any other.  The mapping is idempotent.
"""

from asn1crypto import algos, cms, core, keys, x509

__all__ = [
    "GBT35275_DATA",
    "GBT35275_SIGNED_DATA",
    "SM2_CURVE",
    "SM2_DEFAULT_SIGNER_ID",
    "SM2_SM3",
    "SM3",
]

SM2_CURVE = "1.2.156.10197.1.301"
"""sm2p256v1 curve, carried in the id-ecPublicKey parameters (GM/T 0006)."""
SM3 = "1.2.156.10197.1.401"
"""SM3 digest (GB/T 32905)."""
SM2_SM3 = "1.2.156.10197.1.501"
"""SM2 signature with SM3 digest (GM/T 0006, GB/T 35275)."""
GBT35275_DATA = "1.2.156.10197.6.1.4.2.1"
"""GB/T 35275 'data' content type."""
GBT35275_SIGNED_DATA = "1.2.156.10197.6.1.4.2.2"
"""GB/T 35275 'signedData' content type."""
SM2_DEFAULT_SIGNER_ID = b"1234567812345678"
"""Default signer ID hashed into the Z value (GB/T 32918.2, GM/T 0009)."""


def _register() -> None:
    """Teach asn1crypto the GM/T OIDs, so SM2/SM3 structures parse to names, not numbers.

    Curves have a public ``NamedCurve.register``; the other OID types do not, so
    :func:`_add` does what that method does, on asn1crypto's internal tables.
    """
    if keys.NamedCurve.map(SM2_CURVE) == SM2_CURVE:  # ``map`` returns unknown OIDs as is
        keys.NamedCurve.register("sm2p256v1", SM2_CURVE, 32)
    _add(algos.DigestAlgorithmId, SM3, "sm3")
    _add(algos.SignedDigestAlgorithmId, SM2_SM3, "sm2_sm3")
    _add(cms.ContentType, GBT35275_DATA, "gbt35275_data")
    _add(cms.ContentType, GBT35275_SIGNED_DATA, "gbt35275_signed_data")


def _add(oid_type: type[core.ObjectIdentifier], dotted: str, name: str) -> None:
    """Map ``dotted`` ↔ ``name`` in ``oid_type``, as ``NamedCurve.register`` does for curves.

    ``_map`` (OID → name) and ``_reverse_map`` (name → OID, built from ``_map`` on first
    use, ``None`` until then) are asn1crypto internals, unchanged since 0.x and pinned by
    tests/test_private_apis.py.  Both are updated: resetting the reverse map to ``None``
    instead would break ``unmap`` on a type already set up (it does not rebuild it).
    """
    oid_type._map[dotted] = name
    if oid_type._reverse_map is not None:
        oid_type._reverse_map[name] = dotted


class _ReverseMapInStep(dict[str, str]):
    """asn1crypto's name → OID table that catches up with names added to ``_map`` later.

    pyHanko's ``register_cms_attribute`` and ``register_x509_extension`` (run when
    ``pyhanko.sign.ades.cades_asn1`` is imported) write ``_map`` only.  asn1crypto builds
    ``_reverse_map`` once, so when anything named an attribute before pyHanko was imported
    — the order a lazily importing command line or a test run happens to take — names such
    as ``signer_attributes_v2`` parse but cannot be encoded again (``dump(force=True)``
    raises).  On a miss this table re-reads ``_map`` when it has grown, so the import order
    no longer matters, without importing pyHanko's signers (half a second) up front.
    """

    def __init__(self, oid_type: type[core.ObjectIdentifier]) -> None:
        super().__init__()
        self._oid_type = oid_type
        self._seen = -1
        self._catch_up()

    def _catch_up(self) -> None:
        mapping = self._oid_type._map
        if len(mapping) != self._seen:
            self.update({name: dotted for dotted, name in mapping.items()})
            self._seen = len(mapping)

    def __contains__(self, name: object) -> bool:
        if dict.__contains__(self, name):
            return True
        self._catch_up()
        return dict.__contains__(self, name)

    def __missing__(self, name: str) -> str:
        self._catch_up()
        return dict.__getitem__(self, name)


def _keep_reverse_maps_in_step() -> None:
    """Install :class:`_ReverseMapInStep` on the OID types pyHanko extends."""
    for oid_type in (cms.CMSAttributeType, x509.ExtensionId):
        if not isinstance(oid_type._reverse_map, _ReverseMapInStep):
            oid_type._reverse_map = _ReverseMapInStep(oid_type)


_register()
_keep_reverse_maps_in_step()
