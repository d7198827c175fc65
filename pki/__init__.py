"""Crypto and CA core of sealsvc: algorithms, key store, certificates, CRL, OCSP, TSA.

Nothing in this package knows what a seal is; ``sealsvc`` builds the seal domain on top.
Importing it registers the SM2/SM3 object identifiers with asn1crypto (see ``pki.asn1.oids``).
"""

from pki.asn1 import oids as _oids  # noqa: F401  (side effect: OID registration, exactly once)
