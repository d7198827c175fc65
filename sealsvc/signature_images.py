"""Persons' handwritten signatures as drawn on the signature pad: checked, kept, reused.

A drawing comes from a browser canvas, so it is untrusted bytes like any upload: it goes
through the seal-image upload check (PNG only, size and pixel bounds before decoding, no
animation, paper made transparent), then must hold ink — a canvas the person never drew
on is transparent (or white) and is refused, since a signature with no strokes would
still be a signature in law.  The image is cropped to its strokes, so the appearance in
the signed document is the signature, not the pad's empty margins.

One image per person as the identity provider names them (provider, ``sub`` and the
salted ID hash: a new account or a changed ID number starts afresh); drawing again
replaces it.  Every store is audited as ``person.image_set`` with the image's SHA-256,
never the image itself.
"""

from __future__ import annotations

import hashlib
import io

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc import audit
from sealsvc.errors import InvalidInput
from sealsvc.identity import PersonIdentity, get_provider
from sealsvc.models import SignatureImage, utcnow
from sealsvc.sealimage.upload import load_uploaded_png

__all__ = [
    "ACTION_SET",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PX",
    "MIN_INK_PIXELS",
    "BlankSignature",
    "checked_signature_png",
    "get_image",
    "set_image",
]

ACTION_SET = "person.image_set"
MAX_IMAGE_BYTES = 1_000_000
"""Largest drawing accepted: a 1,200×600 canvas of strokes is 20–80 kB as a PNG."""
MAX_IMAGE_PX = 2400
"""Largest side in pixels: a phone canvas at device-pixel ratio 3 stays below it."""
MIN_INK_PIXELS = 150
"""Fewest opaque pixels a signature must have: a short stroke of a 3-pixel pen is ~300; a
tap or a stray dot is not a signature."""
_OPAQUE = 128


class BlankSignature(InvalidInput):
    """The drawing has no strokes: the pad was confirmed without signing."""

    kind = "blank-signature"


_MARGIN = 4


def checked_signature_png(data: bytes) -> bytes:
    """The drawing as an RGBA PNG cropped to its strokes, or :class:`InvalidInput`.

    Refused: anything :func:`~sealsvc.sealimage.upload.load_uploaded_png` refuses, and a
    drawing with fewer than :data:`MIN_INK_PIXELS` ink pixels (a blank canvas:
    :class:`BlankSignature`).
    """
    rgba_png = load_uploaded_png(data, MAX_IMAGE_BYTES, MAX_IMAGE_PX, what="signature image")
    with Image.open(io.BytesIO(rgba_png)) as image:
        alpha = image.getchannel("A").point(lambda level: 255 if level >= _OPAQUE else 0)
        ink = alpha.histogram()[255]
        bbox = alpha.getbbox()  # None only for a drawing without ink
        if ink < MIN_INK_PIXELS or bbox is None:
            raise BlankSignature(
                f"the signature is blank ({ink} ink pixels; at least {MIN_INK_PIXELS}): "
                "draw it on the pad"
            )
        left, top, right, bottom = bbox
        cropped = image.crop(
            (
                max(0, left - _MARGIN),
                max(0, top - _MARGIN),
                min(image.width, right + _MARGIN),
                min(image.height, bottom + _MARGIN),
            )
        )
        out = io.BytesIO()
        cropped.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _row(session: Session, person: PersonIdentity) -> SignatureImage | None:
    provider = get_provider(session, person.provider)
    return session.scalar(
        select(SignatureImage).where(
            SignatureImage.provider_id == provider.id,
            SignatureImage.subject == person.subject,
            SignatureImage.id_hash == person.id_hash,
        )
    )


def get_image(session: Session, person: PersonIdentity) -> bytes | None:
    """The person's saved signature (PNG), or ``None`` if they never drew one."""
    row = _row(session, person)
    return row.image_png if row else None


def set_image(session: Session, person: PersonIdentity, png: bytes, *, actor: str) -> bytes:
    """Check ``png`` (:func:`checked_signature_png`), keep it as the person's signature,
    replacing any earlier one, audit ``person.image_set``; return the stored PNG."""
    image = checked_signature_png(png)
    digest = hashlib.sha256(image).hexdigest()
    row = _row(session, person)
    replaced = row is not None
    if row is None:
        row = SignatureImage(
            provider_id=get_provider(session, person.provider).id,
            subject=person.subject,
            id_hash=person.id_hash,
        )
        session.add(row)
    row.image_png, row.sha256, row.updated_at = image, digest, utcnow()
    session.flush()
    audit.append(
        session,
        action=ACTION_SET,
        actor=actor,
        details={
            "provider": person.provider,
            "subject": person.subject,
            "token_id": person.token_id,
            "image_sha256": digest,
            "replaced": replaced,
        },
    )
    return image
