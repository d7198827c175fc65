"""Hostile PDFs written byte by byte: decompression bombs, deep nesting, reference loops.

No PDF library writes these (they refuse to), so :func:`build_pdf` lays out numbered
objects, a classic cross-reference table and a trailer by hand.  The documents are valid
enough for a parser to get going — a catalog, a page tree, one page with a ``（盖章）``-free
content stream — and then hit the hostile part:

* :func:`content_bomb` — a page content stream of ``mib`` MiB of zeros in FlateDecode
  (1 GiB in ~1 MB; with ``layers=2`` the compressed data is compressed again, ~3 KB);
* :func:`image_bomb` — an image XObject of the same kind, drawn on the page;
* :func:`object_stream_bomb` — an object stream (``/Type /ObjStm``) that inflates to 1 GiB;
* :func:`nested` — an array or dictionary nested ``depth`` levels deep in a signature value;
* :func:`reference_chain` — ``/Count`` behind ``length`` indirect objects that each hold
  only the reference to the next, and :func:`reference_loop` where the chain closes;
* :func:`page_tree_loop` — a ``/Kids`` array that contains its own page-tree node;
* :func:`xref_prev_loop` — an incremental update whose trailer ``/Prev`` points at itself;
* :func:`dss_bomb` — a sealed PDF whose DSS lists CRL streams of 256 MiB of zeros each.

Everything is built in milliseconds (the bomb's deflate blocks are repeated, not
computed), so tests can call these freely; :data:`HOSTILE` names them all.
"""

from __future__ import annotations

import functools
import io
import zlib
from collections.abc import Callable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

__all__ = [
    "HOSTILE",
    "MIB",
    "build_pdf",
    "content_bomb",
    "dss_bomb",
    "image_bomb",
    "nested",
    "object_stream_bomb",
    "page_tree_loop",
    "reference_chain",
    "reference_loop",
    "stream",
    "xref_prev_loop",
    "zeros_bomb",
]

MIB = 1 << 20


@functools.cache
def zeros_bomb(mib: int) -> bytes:
    """zlib data that inflates to ``mib`` MiB of zeros.

    After a full flush the deflater has no history, so each further MiB of zeros
    compresses to the very same bytes: compress two, repeat the second, and finish with
    the final block and the Adler-32 of n zero bytes, which is ``(n mod 65521) << 16 | 1``.
    """
    chunk = bytes(MIB)
    compressor = zlib.compressobj(9)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    final_block = compressor.flush()[:-4]  # drop the Adler-32 of the two MiB
    adler = ((mib * MIB % 65521) << 16) | 1
    return first + repeated * (mib - 1) + final_block + adler.to_bytes(4, "big")


def build_pdf(objects: dict[int, bytes], *, root: int = 1) -> bytes:
    """A PDF with these numbered objects (generation 0) and a classic xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += (
            b"%010d 00000 n \n" % offsets[number]
            if number in offsets
            else b"0" * 10 + b" 65535 f \n"
        )
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref)
    return bytes(out)


def stream(data: bytes, entries: bytes = b"") -> bytes:
    """A stream object with ``data`` as its (already encoded) bytes."""
    return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(data), entries, data)


def _document(
    content: bytes,
    *,
    resources: bytes = b"<< >>",
    catalog: bytes = b"",
    kids: bytes = b"/Kids [3 0 R] /Count 1",
    **extra: bytes,
) -> bytes:
    """Catalog 1, pages 2, page 3 with content stream 4; ``extra`` as ``o5=…``, ``o6=…``."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R %s>>" % catalog,
        2: b"<< /Type /Pages %s >>" % kids,
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources %s >>" % resources,
        4: content,
    }
    objects.update({int(name[1:]): value for name, value in extra.items()})
    return build_pdf(objects)


def content_bomb(mib: int = 1024, layers: int = 1) -> bytes:
    """One page whose content stream inflates to ``mib`` MiB of zeros."""
    data, filters = zeros_bomb(mib), b"/FlateDecode"
    for _ in range(layers - 1):
        data, filters = zlib.compress(data, 9), filters + b" /FlateDecode"
    return _document(stream(data, b"/Filter [%s] " % filters))


def image_bomb(mib: int = 1024) -> bytes:
    """One page that draws an 8-bit grey image of ``mib`` MiB of zeros (FlateDecode)."""
    side = int((mib * MIB) ** 0.5)
    image = stream(
        zeros_bomb(mib),
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode " % (side, side),
    )
    return _document(
        stream(b"q 100 0 0 100 50 50 cm /Im0 Do Q"),
        resources=b"<< /XObject << /Im0 5 0 R >> >>",
        o5=image,
    )


def object_stream_bomb(mib: int = 1024) -> bytes:
    """An object stream (referenced by nothing but present) that inflates to ``mib`` MiB."""
    return _document(
        stream(b""),
        o5=stream(zeros_bomb(mib), b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode "),
    )


def nested(depth: int = 100_000, kind: str = "array") -> bytes:
    """The value of a signature field nested ``depth`` arrays or dictionaries deep."""
    if kind == "array":
        value = b"[" * depth + b"]" * depth
    else:
        value = b"<< /A " * depth + b"0" + b" >>" * depth
    return _document(
        stream(b""),
        catalog=b"/AcroForm << /Fields [5 0 R] >> ",
        o5=b"<< /FT /Sig /T (Seal1) /Rect [0 0 0 0] /V %s >>" % value,
    )


def reference_chain(length: int = 100_000, *, closed: bool = False) -> bytes:
    """``/Count 5 0 R``, object 5 holds ``6 0 R``, … ``length`` links, ending in 1 (or 5)."""
    last = 5 + length - 1
    links = {f"o{n}": b"%d 0 R" % (n + 1) for n in range(5, last)}
    links[f"o{last}"] = b"5 0 R" if closed else b"1"
    return _document(stream(b""), kids=b"/Kids [3 0 R] /Count 5 0 R", **links)


def reference_loop() -> bytes:
    """Objects 5 and 6 refer to each other; ``/Count`` and ``/Contents`` go through them."""
    return reference_chain(2, closed=True)


def page_tree_loop() -> bytes:
    """A page-tree node that lists itself among its kids (and claims 2 pages)."""
    return _document(stream(b"")).replace(
        b"/Kids [3 0 R] /Count 1", b"/Kids [3 0 R 2 0 R] /Count 2"
    )


def xref_prev_loop() -> bytes:
    """An appended update whose trailer's ``/Prev`` is its own cross-reference section."""
    base = _document(stream(b""))
    update = len(base)
    body = b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 9 9] /Contents 4 0 R >>\nendobj\n"
    xref = update + len(body)
    tail = b"xref\n3 1\n%010d 00000 n \ntrailer\n<< /Size 5 /Root 1 0 R /Prev %d >>\n" % (
        update,
        xref,
    )
    return base + body + tail + b"startxref\n%d\n%%%%EOF\n" % xref


HOSTILE: dict[str, Callable[[], bytes]] = {
    "content bomb 1 GiB": content_bomb,
    "content bomb 1 GiB, two Flate layers": functools.partial(content_bomb, 1024, 2),
    "image bomb 1 GiB": image_bomb,
    "object stream bomb 1 GiB": object_stream_bomb,
    "arrays 100k deep": nested,
    "dictionaries 100k deep": functools.partial(nested, kind="dict"),
    "reference chain 100k long": reference_chain,
    "reference loop": reference_loop,
    "page tree loop": page_tree_loop,
    "xref /Prev loop": xref_prev_loop,
}
"""Every hostile document by name (built on call; the bombs' zlib data is cached)."""


def dss_bomb(sealed: bytes, count: int = 20, mib: int = 256) -> bytes:
    """``sealed`` plus an update whose DSS lists ``count`` CRLs of ``mib`` MiB of zeros each."""
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed), strict=False)
    dss = writer.root.get("/DSS")
    if dss is None:
        dss = generic.DictionaryObject()
        writer.root["/DSS"] = writer.add_object(dss)
        writer.update_root()
    else:
        dss = dss.get_object()
    bomb = generic.StreamObject(
        {generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")},
        encoded_data=zeros_bomb(mib),
    )
    dss["/CRLs"] = generic.ArrayObject(writer.add_object(bomb) for _ in range(count))
    writer.update_container(dss)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
