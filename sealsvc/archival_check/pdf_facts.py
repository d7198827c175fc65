"""Read a PDF once and record what the 四性 checks judge (:class:`~.facts.FileFacts`).

Two walks, both bounded:

* **every object of the file** (each revision's cross-reference section, latest version
  of each object): actions (JavaScript, Launch, GoToR, ImportData, media …), ``/JS``
  entries, external streams (``/F`` on a stream), reference XObjects (``/Ref``), ``/OPI``,
  embedded files, and every font dictionary with or without its font program.  Walking
  the objects rather than the page tree finds what a hostile file hides where no tree
  points — a PDF/A validator does the same.
* **the page tree**: each page's content streams are decoded (bounded by the anchor
  search's per-stream limit; filters other than Flate by pyHanko under the verification
  engine's decode limits) and every font (``Tf``) and XObject (``Do``) they name must
  exist in the page's resources.  This is what "the file opens and renders"
  needs from the file short of painting it; ``--render`` paints page 1 as well
  (:mod:`.rendering`).

The PDF/A claim is read from the XMP packet (:mod:`.xmp`) and checked against the
file: the part and conformance level, the output intent, and the Info dictionary agreeing
with the XMP (ISO 19005-2 §6.6.2.3.1).  One known deviation is a note, not a failure:
pyHanko, when it seals, appends "; pyHanko x.y" to the Info ``/Producer`` but writes only
"pyHanko x.y" to ``pdf:Producer`` — PDFs sealed by pyHanko elsewhere carry it (ours do
not: :func:`sealsvc.pades.incremental_writer` makes the two agree).
"""

from __future__ import annotations

import base64
import functools
import re
import zlib
from collections.abc import Iterator
from datetime import datetime

from asn1crypto import crl, ocsp, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt.api import AuthStatus
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader

from sealsvc.anchors import SEARCH_DECODE_LIMITS
from sealsvc.archival_check.executables import executable_reason
from sealsvc.archival_check.facts import FileFacts
from sealsvc.archival_check.xmp import XmpError, simple_properties
from sealsvc.licences.metadata import ELEMENTS, XMP_NAMESPACE
from sealsvc.verification.pdf_signatures import MAX_PDF_BYTES, PARSE_ERRORS, open_reader
from sealsvc.verification.revocation import ocsp_serials

__all__ = ["inspect_pdf"]

_MAX_OBJECTS = 200_000
_MAX_PAGES = 10_000
_MAX_DSS_ENTRIES = 1_000
_MAX_CONTENT_BYTES = SEARCH_DECODE_LIMITS.per_stream.max_output_size or 0  # zlib: 0 = no limit

_ACTIVE = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/Rendition", "/Movie", "/Sound"}
"""Actions that run code, start programs, send data out or play media: never in an archive
record (PDF/A forbids them too, ISO 19005-2 §6.5.1)."""
_EXTERNAL = {"/Launch", "/GoToR", "/GoToE", "/ImportData"}
"""Actions whose target is outside the file."""
_ON_OPEN_FORBIDDEN = _ACTIVE | {"/URI"}
"""Actions that must not run when the document or a page opens (a URI on open is a call
home)."""

_DC = "http://purl.org/dc/elements/1.1/"
_XMP = "http://ns.adobe.com/xap/1.0/"
_PDF = "http://ns.adobe.com/pdf/1.3/"
_PDFAID = "http://www.aiim.org/pdfa/ns/id/"

_INFO_XMP = {
    "/Title": (_DC, "title"),
    "/Author": (_DC, "creator"),
    "/Subject": (_DC, "description"),
    "/Keywords": (_PDF, "Keywords"),
    "/Creator": (_XMP, "CreatorTool"),
    "/Producer": (_PDF, "Producer"),
    "/CreationDate": (_XMP, "CreateDate"),
    "/ModDate": (_XMP, "ModifyDate"),
}
"""Info dictionary entries and their XMP counterparts (ISO 19005-2 §6.6.2.3.1, Table 3)."""
_DATES = {"/CreationDate", "/ModDate"}
_PDFA_LEVELS = {"1": "AB", "2": "ABU", "3": "ABU"}
"""PDF/A parts an archive keeps (GB/T 23286.1 is PDF/A-1) and their conformance levels."""
_XMP_TO_KEY = {xmp_name: key for key, (_, xmp_name) in ELEMENTS.items()}

_TF = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s+[-+.\d]+\s+Tf\b")
_DO = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s+Do\b")


_RISKY = re.compile(
    rb"/(?:JS|JavaScript|Launch|GoToR|GoToE|ImportData|SubmitForm|Rendition|Movie|Sound"
    rb"|EF|OPI|Ref|FFilter|FDecodeParms|ObjStm)(?![^\s/\[\]()<>{}%])|/F\s*[(<]|/[A-Za-z0-9]{0,32}#[0-9A-Fa-f]{2}"
)
"""Tokens without which the file holds no action, external stream, embedded file or
hidden dictionary: a file with none of them in its bytes needs no walk over every object.
Object streams (``ObjStm``, compressed dictionaries) and ``#``-escaped names (``/J#53`` is
``/JS``) count as risky, so nothing can hide from the byte search; an encrypted file is
always walked."""


def inspect_pdf(data: bytes, reader: PdfFileReader | None = None) -> FileFacts:
    """The facts of ``data``; a file that cannot be read gets ``problem``, never an exception.

    ``reader``: ``data`` as the verification engine opened it
    (:func:`~sealsvc.verification.pdf_signatures.open_reader`): the objects it parsed —
    pages, fonts, the DSS — are not parsed twice.  Without one the file is opened here.
    """
    if len(data) > MAX_PDF_BYTES:
        return FileFacts("pdf", problem=f"文件超过 {MAX_PDF_BYTES} 字节，未检测")
    try:
        reader = reader or open_reader(data)
        encrypted = reader.encrypted
        if encrypted and reader.decrypt("").status is AuthStatus.FAILED:
            return FileFacts("pdf", problem="PDF 已加密，需要打开密码", encrypted=True)
        return _Inspection(reader, encrypted).facts(walk=encrypted or bool(_RISKY.search(data)))
    except (*PARSE_ERRORS, RecursionError, NotImplementedError) as exc:
        lines = str(exc).strip().splitlines()
        return FileFacts(
            "pdf", problem=f"PDF 无法解析：{lines[0] if lines else type(exc).__name__}"
        )


class _Inspection:
    def __init__(self, reader: PdfFileReader, encrypted: bool) -> None:
        self.reader = reader
        self.encrypted = encrypted
        self.active: list[str] = []
        self.external: list[str] = []
        self.executables: list[str] = []
        self.fonts: list[str] = []
        self.page_problems: list[str] = []
        self.images = 0
        self.seen_fonts: set[int] = set()
        self.xmp_problem: str | None = None

    def facts(self, *, walk: bool) -> FileFacts:
        """``walk``: visit every object (else the page tree and the catalog suffice)."""
        if walk:
            for ref, obj in self._objects():
                self._object(ref, obj)
        self._on_open()
        pages = self._pages()
        xmp = self._xmp()
        info = self._info()
        claim, claim_problems, notes = self._pdfa(xmp, info)
        return FileFacts(
            format="pdf",
            encrypted=self.encrypted,
            pages=pages,
            page_problems=tuple(self.page_problems),
            fonts_not_embedded=tuple(dict.fromkeys(self.fonts)),
            images=self.images,
            external_references=tuple(dict.fromkeys(self.external)),
            active_content=tuple(dict.fromkeys(self.active)),
            executables=tuple(self.executables),
            long_term_format=claim,
            long_term_problems=tuple(claim_problems),
            revocation_evidence=self._dss(),
            notes=tuple(notes),
            descriptive=_descriptive(xmp, info),
            licence_metadata={
                _XMP_TO_KEY[local]: value
                for (ns, local), value in xmp.items()
                if ns == XMP_NAMESPACE and local in _XMP_TO_KEY and value
            },
        )

    # --- every object -----------------------------------------------------------------

    def _objects(self) -> Iterator[tuple[generic.Reference, generic.PdfObject]]:
        xrefs = self.reader.xrefs
        refs: set[generic.Reference] = set()
        for revision in range(xrefs.total_revisions):
            refs |= xrefs.explicit_refs_in_revision(revision)
            if len(refs) > _MAX_OBJECTS:
                raise ValueError(f"more than {_MAX_OBJECTS} objects")
        for ref in sorted(refs, key=lambda r: (r.idnum, r.generation)):
            yield ref, self.reader.get_object(ref)

    def _object(self, ref: generic.Reference, obj: generic.PdfObject) -> None:
        if not isinstance(obj, generic.DictionaryObject):
            return
        where = f"对象 {ref.idnum}"
        action = _get(obj, "/S")
        if action in _ACTIVE and ("/Type" not in obj or _get(obj, "/Type") == "/Action"):
            self.active.append(f"{where}：{str(action)[1:]} 动作")
        if action in _EXTERNAL:
            self.external.append(f"{where}：{str(action)[1:]} 动作指向文件外")
        if "/JS" in obj:
            self.active.append(f"{where}：JavaScript 代码")
        if isinstance(obj, generic.StreamObject) and "/F" in obj:
            self.external.append(f"{where}：数据流的内容在外部文件中")
        if _get(obj, "/Subtype") == "/Form" and "/Ref" in obj:
            self.external.append(f"{where}：引用外部文档的页面（Reference XObject）")
        if "/OPI" in obj:
            self.external.append(f"{where}：OPI 外部图像")
        if _get(obj, "/Type") == "/Font":
            self._font(obj)
        if "/EF" in obj:
            self._embedded_file(where, obj)
        names = _get(obj, "/Names") if _get(obj, "/Type") == "/Catalog" else None
        if isinstance(names, generic.DictionaryObject) and "/JavaScript" in names:
            self.active.append("文档名称树中有 JavaScript")

    def _font(self, font: generic.DictionaryObject) -> None:
        subtype = _get(font, "/Subtype")
        if subtype in (
            "/Type0",
            "/Type3",
        ):  # Type0: its descendant is checked; Type3: glyphs inline
            return
        key = id(font)
        if key in self.seen_fonts:
            return
        self.seen_fonts.add(key)
        descriptor = _get(font, "/FontDescriptor")
        embedded = isinstance(descriptor, generic.DictionaryObject) and any(
            key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
        )
        if not embedded:
            self.fonts.append(str(_get(font, "/BaseFont") or "/(无名字体)")[1:])

    def _embedded_file(self, where: str, spec: generic.DictionaryObject) -> None:
        name = str(_get(spec, "/UF") or _get(spec, "/F") or "")
        streams = spec["/EF"]
        for key in ("/F", "/UF"):
            stream = _get(streams, key) if isinstance(streams, generic.DictionaryObject) else None
            if isinstance(stream, generic.StreamObject):
                reason = executable_reason(name, _bounded(stream)[:8])
                if reason:
                    self.executables.append(f"{where}：附件 {name or '(无名)'} {reason}")
                return

    def _on_open(self) -> None:
        """Actions run when the document opens (OpenAction, catalog AA) or a page opens."""
        root = self.reader.root
        triggers: list[tuple[str, generic.PdfObject | None]]
        triggers = [("打开文档时", _get(root, "/OpenAction"))]
        for owner, label in ((root, "文档"), *((p, "页面") for p in self._page_dicts())):
            additional = _get(owner, "/AA")
            if isinstance(additional, generic.DictionaryObject):
                triggers += [(f"{label}事件 {str(k)[1:]}", v) for k, v in additional.items()]
        for label, action in triggers:
            for step in _chain(action):
                if _get(step, "/S") in _ON_OPEN_FORBIDDEN:
                    self.active.append(f"{label}执行 {str(step['/S'])[1:]} 动作")

    # --- pages ------------------------------------------------------------------------

    def _page_dicts(self) -> list[generic.DictionaryObject]:
        pages: list[generic.DictionaryObject] = []
        todo = [self.reader.root["/Pages"]]
        seen: set[int] = set()
        while todo and len(pages) <= _MAX_PAGES:
            node = todo.pop()
            if not isinstance(node, generic.DictionaryObject) or id(node) in seen:
                continue
            seen.add(id(node))
            if _get(node, "/Type") == "/Pages" or "/Kids" in node:
                todo.extend(reversed(_items(_get(node, "/Kids"))))
            else:
                pages.append(node)
        return pages

    def _pages(self) -> int:
        pages = self._page_dicts()
        for number, page in enumerate(pages, start=1):
            try:
                content = _content(page, self.encrypted)
            except (*PARSE_ERRORS, RecursionError) as exc:
                self.page_problems.append(f"第 {number} 页无法读取：{exc}")
                continue
            for problem in self._page_resources(page, content):
                self.page_problems.append(f"第 {number} 页{problem}")
        return len(pages)

    def _page_resources(self, page: generic.DictionaryObject, content: bytes) -> Iterator[str]:
        resources = _inherited(page, "/Resources")
        fonts, xobjects = generic.DictionaryObject(), generic.DictionaryObject()
        if isinstance(resources, generic.DictionaryObject):
            fonts = _dictionary(_get(resources, "/Font"))
            xobjects = _dictionary(_get(resources, "/XObject"))
        self._resource_fonts(resources, depth=0)
        for annotation in _items(_get(page, "/Annots")):
            dictionary = generic.DictionaryObject
            appearance = _get(annotation, "/AP") if isinstance(annotation, dictionary) else None
            normal = _get(appearance, "/N") if isinstance(appearance, dictionary) else None
            if isinstance(normal, generic.StreamObject):
                self._resource_fonts(_get(normal, "/Resources"), depth=1)
        for name in dict.fromkeys(_TF.findall(content)):
            if "/" + name.decode("latin-1") not in fonts:
                yield f"使用的字体 {name.decode('latin-1')} 不在页面资源中"
        for name in dict.fromkeys(_DO.findall(content)):
            xobject = _get(xobjects, "/" + name.decode("latin-1"))
            if not isinstance(xobject, generic.StreamObject):
                yield f"使用的对象 {name.decode('latin-1')} 不在页面资源中"
            elif _get(xobject, "/Subtype") == "/Image":
                self.images += 1

    def _resource_fonts(self, resources: generic.PdfObject | None, depth: int) -> None:
        """Check the fonts of ``resources`` and of the form XObjects in them (to depth 4)."""
        if not isinstance(resources, generic.DictionaryObject) or depth > 4:
            return
        fonts = _dictionary(_get(resources, "/Font"))
        for name in fonts:
            font = fonts[name]
            if not isinstance(font, generic.DictionaryObject):
                continue
            if _get(font, "/Subtype") == "/Type0":
                font = next(iter(_items(_get(font, "/DescendantFonts"))), font)
            if isinstance(font, generic.DictionaryObject):
                self._font(font)
        xobjects = _dictionary(_get(resources, "/XObject"))
        for name in xobjects:
            xobject = xobjects[name]
            if isinstance(xobject, generic.StreamObject) and _get(xobject, "/Subtype") == "/Form":
                self._resource_fonts(_get(xobject, "/Resources"), depth + 1)

    def _dss(self) -> frozenset[str]:
        """Whom the Document Security Store's OCSP answers and CRLs vouch for."""
        dss = _get(self.reader.root, "/DSS")
        if not isinstance(dss, generic.DictionaryObject):
            return frozenset()
        found: set[str] = set()
        for stream in _items(_get(dss, "/OCSPs"))[:_MAX_DSS_ENTRIES]:
            der = _bounded(stream, DecodePurpose.OCSP_RESPONSE)
            serials = ocsp_serials(der)  # as the verifier read it (else: why it cannot)
            if serials is None:
                basic = ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
                responses = basic["tbs_response_data"]["responses"]
                serials = frozenset(
                    single["cert_id"]["serial_number"].native for single in responses
                )
            found.update(f"ocsp:{serial:x}" for serial in serials)
        for stream in _items(_get(dss, "/CRLs"))[:_MAX_DSS_ENTRIES]:
            der = _bounded(stream, DecodePurpose.CRL)
            issuer = crl.CertificateList.load(der)["tbs_cert_list"]["issuer"]
            found.add(f"crl:{_name(issuer.dump())}")
        return frozenset(found)

    # --- metadata ---------------------------------------------------------------------

    def _xmp(self) -> dict[tuple[str, str], str]:
        """Simple XMP values by (namespace, name); a language alternative or an array
        gives its first entry.  ``{}`` when there is no packet; raises when it is broken."""
        stream = _get(self.reader.root, "/Metadata")
        if not isinstance(stream, generic.StreamObject):
            return {}
        try:
            return simple_properties(_bounded(stream, DecodePurpose.XMP_METADATA))
        except XmpError as exc:
            self.xmp_problem = str(exc)
            return {}

    def _info(self) -> dict[str, object]:
        info = _get(self.reader.trailer_view, "/Info")
        return {k: info[k] for k in info} if isinstance(info, generic.DictionaryObject) else {}

    def _pdfa(
        self, xmp: dict[tuple[str, str], str], info: dict[str, object]
    ) -> tuple[str | None, list[str], list[str]]:
        part, level = xmp.get((_PDFAID, "part")), xmp.get((_PDFAID, "conformance"), "")
        if self.xmp_problem:
            return "PDF/A（XMP 无法读取）", [self.xmp_problem], []
        if part is None:
            return None, [], []
        claim = f"PDF/A-{part}{level.upper()}"
        problems, notes = [], []
        if level.upper() not in _PDFA_LEVELS.get(part, "") or not level:
            problems.append(f"{claim} 不是长期保存允许的级别（PDF/A-1b、-2b、-3b 及更高）")
        intents = _get(self.reader.root, "/OutputIntents")
        if not any(
            isinstance(i, generic.DictionaryObject)
            and _get(i, "/S") == "/GTS_PDFA1"
            and "/DestOutputProfile" in i
            for i in (_items(intents) if isinstance(intents, generic.ArrayObject) else ())
        ):
            problems.append("没有 PDF/A 输出意图（GTS_PDFA1 及 ICC 配置文件）")
        for key, xmp_name in _INFO_XMP.items():
            if key not in info:
                continue
            ours, theirs = str(info[key]), xmp.get(xmp_name)
            if key in _DATES:
                agree = theirs is not None and _same_moment(ours, theirs)
            else:
                agree = ours == theirs
            if agree:
                continue
            problem = f"Info 的 {key[1:]}（{ours}）与 XMP（{theirs}）不一致"
            if key == "/Producer" and theirs and ours.endswith(f"; {theirs}"):
                notes.append(problem + "：pyHanko 盖章时写入的已知差异")
            else:
                problems.append(problem)
        return claim, problems, notes


@functools.lru_cache(maxsize=256)
def _name(der: bytes) -> str:
    """A distinguished name as the verification report spells it; our CAs' CRLs come back
    in file after file of a batch, and asn1crypto spells a CJK name in ~0.3 ms."""
    return x509.Name.load(der).human_friendly


def _items(array: generic.PdfObject | None) -> list[generic.PdfObject]:
    """An array's elements resolved (iterating an ``ArrayObject`` yields references)."""
    if not isinstance(array, generic.ArrayObject):
        return []
    return [array[i] for i in range(min(len(array), _MAX_OBJECTS))]


def _streams(array: generic.PdfObject | None) -> list[generic.StreamObject]:
    """An array's stream elements (a DSS entry that is no stream vouches for nothing)."""
    return [item for item in _items(array) if isinstance(item, generic.StreamObject)]


def _dictionary(value: generic.PdfObject | None) -> generic.DictionaryObject:
    """``value`` when a dictionary, else an empty one (a malformed entry holds nothing)."""
    return value if isinstance(value, generic.DictionaryObject) else generic.DictionaryObject()


def _get(dictionary: generic.DictionaryObject, key: str) -> generic.PdfObject | None:
    """``dictionary[key]`` resolved, ``None`` when absent (``dict.get`` would not resolve)."""
    if key not in dictionary:
        return None
    return dictionary[key]


def _chain(action: generic.PdfObject | None) -> Iterator[generic.DictionaryObject]:
    """An action and the ones its ``/Next`` runs after it (bounded, loops end)."""
    todo, seen = [action], 0
    while todo and seen < 256:
        item = todo.pop()
        seen += 1
        if isinstance(item, generic.ArrayObject):
            todo.extend(_items(item))
        elif isinstance(item, generic.DictionaryObject):
            yield item
            if "/Next" in item:
                todo.append(item["/Next"])


def _content(page: generic.DictionaryObject, encrypted: bool) -> bytes:
    """The page's content streams decoded and joined (what a viewer paints)."""
    contents = _get(page, "/Contents")
    streams = _items(contents) if isinstance(contents, generic.ArrayObject) else [contents]
    return b"\n".join(
        _decoded(s, encrypted) for s in streams if isinstance(s, generic.StreamObject)
    )


_FAST_FILTERS = (["/FlateDecode"], ["/ASCII85Decode", "/FlateDecode"])
"""Filter chains decoded here at once: plain Flate, and ASCII85 then Flate, which
reportlab writes for every page (our licences, most reports)."""
_PDF_WHITESPACE = b" \t\n\r\f\x00"


def _decoded(stream: generic.StreamObject, encrypted: bool) -> bytes:
    """A stream's data: one of :data:`_FAST_FILTERS` decoded by the standard library at
    once (pyHanko's decoders go byte by byte for ASCII85 and inflate in small steps to
    apply their limits: 10x slower on page content), inflation bounded by the same
    per-stream limit; anything else by pyHanko."""
    filters = _get(stream, "/Filter")
    chain = [filters] if isinstance(filters, generic.NameObject) else filters
    if encrypted or "/DecodeParms" in stream or chain not in _FAST_FILTERS:
        return _bounded(stream)
    data = stream.encoded_data
    try:
        if chain[0] == "/ASCII85Decode":
            data = base64.a85decode(data.partition(b"~>")[0], ignorechars=_PDF_WHITESPACE)
        inflater = zlib.decompressobj()
        data = inflater.decompress(data, _MAX_CONTENT_BYTES)
    except (ValueError, zlib.error) as exc:
        raise ValueError(f"content stream cannot be decoded: {exc}") from None
    if inflater.unconsumed_tail:
        raise ValueError(f"content stream exceeds the limit of {_MAX_CONTENT_BYTES} bytes")
    return data


def _bounded(
    stream: generic.PdfObject | None, purpose: DecodePurpose = DecodePurpose.GENERIC
) -> bytes:
    """A stream decoded by pyHanko, to at most the anchor search's per-stream limit (the
    reader is the verifier's, under pyHanko's looser defaults); anything else where a
    stream must be is a broken file."""
    if not isinstance(stream, generic.StreamObject):
        raise ValueError(f"a stream was expected, not {type(stream).__name__}")
    return stream.read_data(purpose, expected_size=_MAX_CONTENT_BYTES)


def _inherited(page: generic.DictionaryObject, key: str) -> generic.PdfObject | None:
    node: generic.PdfObject | None = page
    for _ in range(64):
        if not isinstance(node, generic.DictionaryObject):
            return None
        if key in node:
            return node[key]
        node = _get(node, "/Parent")
    return None


def _same_moment(pdf_date: str, xmp_date: str) -> bool:
    try:
        ours = generic.parse_pdf_date(pdf_date, strict=False)
        theirs = datetime.fromisoformat(xmp_date)
    except ValueError:
        return False
    if (ours.tzinfo is None) != (theirs.tzinfo is None):
        return ours.replace(tzinfo=None) == theirs.replace(tzinfo=None)
    return ours == theirs


def _descriptive(xmp: dict[tuple[str, str], str], info: dict[str, object]) -> dict[str, str]:
    """DA/T 46's descriptive elements as the file states them (XMP first, then Info)."""
    found = {
        "title": xmp.get((_DC, "title")) or info.get("/Title"),
        "creator": xmp.get((_DC, "creator")) or info.get("/Author"),
        "created": xmp.get((_XMP, "CreateDate")) or info.get("/CreationDate"),
        "modified": xmp.get((_XMP, "ModifyDate")) or info.get("/ModDate"),
    }
    return {key: str(value) for key, value in found.items() if value}
