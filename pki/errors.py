"""Exception types of the PKI core.

Every error carries a one-line message meant for an operator; none of them ever holds key
material, so they are safe to log and to show in a CLI or an API answer.
"""

__all__ = [
    "CertificateError",
    "KeyStoreError",
    "PkiError",
    "SignatureInvalid",
    "UnsupportedAlgorithm",
    "WrongPassphrase",
]


class PkiError(Exception):
    """Base class: a PKI operation could not be carried out."""


class UnsupportedAlgorithm(PkiError):
    """An algorithm, curve or OID this service does not implement."""


class SignatureInvalid(PkiError):
    """A signature did not verify under the given public key."""


class KeyStoreError(PkiError):
    """The key store is missing, corrupt or cannot be written."""


class WrongPassphrase(KeyStoreError):
    """The master passphrase does not open the key store."""


class CertificateError(PkiError):
    """A certificate or CRL could not be built, parsed or validated."""
