"""Fuzzing the SES parser: mutated real seals and signatures (ours, v4 with a time-stamp,
and the third-party v4 and v1 samples) and random bytes make :func:`pki.ses.parse_seal` /
:func:`pki.ses.parse_signature` raise only ``SesFormatError`` or ``UnsupportedSesVersion``
— with a one-line message — and whatever still parses goes through
:func:`pki.ses.check_signature` to a result, never an exception.

The mutation strategy is the suite's own (``test_fuzzing.mutated``: flips, boundary bytes,
DER length tokens, deletions, splices, truncations), aimed half of the time at DER headers.
"""

from __future__ import annotations

import functools

from helpers.fuzzing import fuzz, hot_spots, mutated
from helpers.ses_fixtures import (
    DOCUMENT,
    make_seal,
    make_signature,
    sample_seal_files,
    sample_signatures,
)
from helpers.ses_fixtures import timestamper as _timestamper
from hypothesis import given
from hypothesis import strategies as st

from pki import ses

DER_MARKERS = (b"\x30\x82", b"\x30\x81", b"\x03\x48\x00", b"\x03\x49\x00", b"\x04\x82", b"\x02\x01",
               b"\x16\x02ES", b"\x18\x0f", b"\x17\x0d", b"\xa0", b"\x06\x08*\x81\x1c")  # fmt: skip
"""Where DER steers the parser: SEQUENCE/OCTET STRING headers, signature BIT STRINGs, the
header's "ES", times, the explicit [0] and the SM2 OIDs."""


@functools.cache
def signatures() -> list[bytes]:
    ours = [make_signature(), make_signature(timestamper=_timestamper)]
    theirs = [s.signed_value for s in sample_signatures() if s.ofd != "testImageNotFound.ofd"]
    return ours + theirs


@functools.cache
def seals() -> list[bytes]:
    return [make_seal(), *sample_seal_files().values()]


def _must_answer(parse, der: bytes) -> object | None:
    """Parse ``der``: a view, or ``None`` after an SesFormatError/UnsupportedSesVersion."""
    try:
        return parse(der)
    except (ses.SesFormatError, ses.UnsupportedSesVersion) as exc:
        assert "\n" not in str(exc)
        return None


@st.composite
def mutated_signature(draw) -> bytes:
    original = draw(st.sampled_from(signatures()))
    return draw(mutated(original, _hot(original)))


@st.composite
def mutated_seal(draw) -> bytes:
    original = draw(st.sampled_from(seals()))
    return draw(mutated(original, _hot(original)))


@functools.cache
def _hot(der: bytes) -> tuple[int, ...]:
    return tuple(hot_spots(der, DER_MARKERS))


@fuzz(300)
@given(mutated_signature())
def test_mutated_signatures_parse_or_fail_cleanly_and_always_check(der: bytes) -> None:
    signature = _must_answer(ses.parse_signature, der)
    if signature is not None:
        check = ses.check_signature(signature, DOCUMENT)
        assert len(check.layers) == len(ses.Layer)
        assert signature.der == der


@fuzz(200)
@given(mutated_seal())
def test_mutated_seals_parse_or_fail_cleanly(der: bytes) -> None:
    seal = _must_answer(ses.parse_seal, der)
    if seal is not None:
        assert ses.check_seal(seal).layer is ses.Layer.MAKER_SIGNATURE
        assert seal.der == der


@fuzz(200)
@given(st.binary(max_size=512) | st.binary(max_size=64).map(lambda b: b"\x30" + b))
def test_random_bytes_are_refused_cleanly(data: bytes) -> None:
    _must_answer(ses.parse_signature, data)
    _must_answer(ses.parse_seal, data)
