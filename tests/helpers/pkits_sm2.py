"""NIST PKITS re-issued with SM2 keys: same names, extensions, validity and CRL entries.

Every distinct public key of the NIST set gets an SM2 key; every certificate and CRL is
re-signed with SM2-with-SM3 (default signer ID) by the SM2 key standing for the key that
signed the original.  Whatever NIST signed badly on purpose (4.1.2, 4.1.3, 4.1.6, 4.4.4 …:
no key verifies the original signature) is signed by the key its issuer name and
authority key identifier point to and then corrupted, so the defect is a bad SM2
signature too.  Everything else — subject and issuer DNs, serials, extensions including
key identifiers, validity, CRL entries and CRL extensions — is copied unchanged, so the
same manifest line must give the same verdict.
"""

from __future__ import annotations

import functools
from pathlib import Path

from asn1crypto import algos, crl, keys, x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.sig_validate import DefaultSignatureValidator

from pki import sm2
from pki.asn1 import oids

SM2_SM3 = algos.SignedDigestAlgorithm({"algorithm": oids.SM2_SM3})
_ORIGINAL = DefaultSignatureValidator()


def _signed_by(key: keys.PublicKeyInfo, tbs: bytes, signature: bytes, algorithm) -> bool:
    try:
        _ORIGINAL.validate_signature(signature, tbs, key, algorithm)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


class Sm2Pkits:
    """The SM2 twin of ``tests/data/pkits``: ``load("certs/X.crt")`` → DER, like the original."""

    def __init__(self, root: Path) -> None:
        originals = {
            f"certs/{p.name}": x509.Certificate.load(p.read_bytes())
            for p in sorted((root / "certs").iterdir())
        }
        # The anchor's key and every certified key, by SPKI DER.
        self._sm2: dict[bytes, sm2.SM2PrivateKey] = {}
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        self._all = list(originals.values())
        for certificate in originals.values():
            self._by_subject.setdefault(certificate.subject.dump(), []).append(certificate)
        self._files: dict[str, bytes] = {}
        for name, certificate in originals.items():
            self._files[name] = self._reissue_certificate(certificate)
        for path in sorted((root / "crls").iterdir()):
            self._files[f"crls/{path.name}"] = self._reissue_crl(
                crl.CertificateList.load(path.read_bytes())
            )

    def load(self, name: str) -> bytes:
        return self._files[name]

    def _key_for(self, spki: keys.PublicKeyInfo) -> sm2.SM2PrivateKey:
        return self._sm2.setdefault(spki.dump(), sm2.generate_private_key())

    def _spki_for(self, spki: keys.PublicKeyInfo) -> keys.PublicKeyInfo:
        private = self._key_for(spki)
        return keys.PublicKeyInfo.load(sm2.public_key_to_spki_der(private.public_key()))

    def _signer(
        self, issuer: x509.Name, aki: bytes | None, tbs: bytes, signature: bytes, algorithm
    ) -> tuple[keys.PublicKeyInfo, bool]:
        """(original key that signed — or should have signed — ``tbs``, signature good)."""
        # Name chaining cases (4.3) carry issuer names nobody has: the AKI finds those.
        by_name = self._by_subject.get(issuer.dump(), [])
        by_aki = [c for c in self._all if aki is not None and c.key_identifier == aki]
        for candidate in (*by_name, *by_aki):
            if _signed_by(self._effective_key(candidate), tbs, signature, algorithm):
                return candidate.public_key, True
        for candidate in by_name or by_aki:
            if aki is None or candidate.key_identifier == aki:
                return candidate.public_key, False
        raise LookupError(f"no issuer for {issuer.human_friendly}")

    def _effective_key(self, certificate: x509.Certificate) -> keys.PublicKeyInfo:
        """The key as RFC 5280 §6.1.4 (k) sees it: a DSA key without parameters inherits
        its issuer's (PKITS 4.1.5); otherwise the key itself."""
        key = certificate.public_key
        if key.algorithm != "dsa" or key["algorithm"]["parameters"].native is not None:
            return key
        issuer = self._by_subject[certificate.issuer.dump()][0]
        return keys.PublicKeyInfo(
            {
                "algorithm": {
                    "algorithm": "dsa",
                    "parameters": issuer.public_key["algorithm"]["parameters"],
                },
                "public_key": key["public_key"],
            }
        )

    def _sign(self, original_key: keys.PublicKeyInfo, tbs: bytes, good: bool) -> bytes:
        signature = sm2.sign(self._key_for(original_key), tbs)
        if good:
            return signature
        # A DER SEQUENCE {r, s}: flipping a bit of s keeps it parseable but wrong.
        return signature[:-1] + bytes([signature[-1] ^ 0x01])

    def _reissue_certificate(self, original: x509.Certificate) -> bytes:
        tbs = original["tbs_certificate"]
        signer, good = self._signer(
            original.issuer,
            original.authority_key_identifier,
            tbs.dump(),
            original["signature_value"].native,
            original["signature_algorithm"],
        )
        new_tbs = tbs.copy()
        new_tbs["signature"] = SM2_SM3
        new_tbs["subject_public_key_info"] = self._spki_for(original.public_key)
        tbs_der = new_tbs.dump(force=True)
        return x509.Certificate(
            {
                "tbs_certificate": x509.TbsCertificate.load(tbs_der),
                "signature_algorithm": SM2_SM3,
                "signature_value": self._sign(signer, tbs_der, good),
            }
        ).dump()

    def _reissue_crl(self, original: crl.CertificateList) -> bytes:
        tbs = original["tbs_cert_list"]
        aki = original.authority_key_identifier
        signer, good = self._signer(
            tbs["issuer"],
            aki,
            tbs.dump(),
            original["signature"].native,
            original["signature_algorithm"],
        )
        new_tbs = tbs.copy()
        new_tbs["signature"] = SM2_SM3
        tbs_der = new_tbs.dump(force=True)
        return crl.CertificateList(
            {
                "tbs_cert_list": crl.TbsCertList.load(tbs_der),
                "signature_algorithm": SM2_SM3,
                "signature": self._sign(signer, tbs_der, good),
            }
        ).dump()


@functools.cache
def sm2_pkits(root: Path) -> Sm2Pkits:
    """Generated once per process: every test and the docs script share one SM2 set."""
    return Sm2Pkits(root)
