"""GB/T 38540 electronic seals and signatures: build, sign, read and check (v4; v1 read).

Four operations over DER bytes, with no notion of a seal registry or database:

- :func:`make_seal` — a seal maker (制章者) signs a seal's info into a v4 ``SESeal``;
- :func:`sign_ses` — a signer makes a v4 ``SES_Signature`` over a data hash with a seal,
  optionally time-stamped (RFC 3161 over the signature value);
- :func:`parse_seal`, :func:`parse_signature` — read v4 (GB/T 38540-2020) and v1 (GM/T
  0031-2014) structures into version-neutral, read-only views that keep the exact bytes
  every layer signed;
- :func:`check_signature` — the cryptographic layers of a signature, each with its own
  result: maker signature, signer signature, signer certificate in the seal's certList,
  ``dataHash`` against the data, signing time inside the seal's validity, time-stamp.

Certificate paths, trust and revocation are *not* checked here: that is the one
verification engine's job in sealsvc, which takes the certificates from these views.
Every SM2 signature is SM2-with-SM3 with the default signer ID ``1234567812345678`` and a
DER ``SEQUENCE {r, s}`` value, made and checked through :mod:`pki.algorithms`, so a key in
any key store (software or token) can be a maker or signer.

The version of a structure is told by its shape (``SESeal`` has four fields in v4, two in
v1; ``SES_Signature`` four or five in v4, two in v1), as ofdrw does, then confirmed by the
header: anything else — a v5 header, an ``id`` other than "ES" — is
:class:`UnsupportedSesVersion`; bytes that do not parse are :class:`SesFormatError`.
Both carry a one-line message, never an asn1crypto traceback.

Modules: :mod:`~pki.ses.model` (errors and the read-only views), :mod:`~pki.ses.build`
(make and sign), :mod:`~pki.ses.parse` (read, either version), :mod:`~pki.ses.check` (the
layers).  Import from ``pki.ses``: the names below are the interface.
"""

from pki.ses.build import make_seal, sign_ses
from pki.ses.check import (
    Layer,
    LayerResult,
    LayerStatus,
    Reason,
    SesCheck,
    check_seal,
    check_signature,
)
from pki.ses.model import (
    DEFAULT_VID,
    CertDigest,
    SealPicture,
    SesError,
    SesExtension,
    SesFormatError,
    SesSeal,
    SesSignature,
    UnsupportedSesVersion,
)
from pki.ses.parse import parse_seal, parse_signature

__all__ = [
    "DEFAULT_VID",
    "CertDigest",
    "Layer",
    "LayerResult",
    "LayerStatus",
    "Reason",
    "SealPicture",
    "SesCheck",
    "SesError",
    "SesExtension",
    "SesFormatError",
    "SesSeal",
    "SesSignature",
    "UnsupportedSesVersion",
    "check_seal",
    "check_signature",
    "make_seal",
    "parse_seal",
    "parse_signature",
    "sign_ses",
]
