"""Judge a later revision by its effect: what a reader of the document sees changed.

pyHanko's difference analysis (:mod:`pyhanko.sign.diff_analysis`) explains changes by
whitelisting the objects an update may touch.  Real files from other software do routine
things it does not whitelist — rewrite ``/VRI`` entries of the DSS in a later LTV update,
write a byte-identical copy of page resources under a new object number, free object
numbers that never existed — and reading those as tampering tells a citizen "文件内容被篡改"
about a document nobody changed.  EU DSS instead compares what is *shown*; so do we, when
pyHanko cannot explain an update:

- page count, page content (decoded content streams), resources, boxes and rotation;
- annotations: appearance, rectangle, flags and text of those present at signing; added
  annotations (a new signature widget counts as signing, others as annotating);
- form field values outside signature fields, optional-content (layer) settings, and
  what makes a viewer act or show more: actions, scripts, embedded files, XFA.

Objects are compared by value across the two revisions, so a copy under a new number is
no change.  What cannot be compared (a stream that does not decode, a structure beyond
the budget) raises :class:`Unclassifiable`: the caller turns that into a warning and at
worst INDETERMINATE, never into "tampered".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel

__all__ = ["Effect", "Unclassifiable", "effect_of_later_revisions"]

_MAX_NODES = 200_000
"""Most PDF objects compared for one signature: bounds the work a hostile file causes."""
_MAX_PAGES = 10_000
_PAGE_KEYS = ("/Resources", "/MediaBox", "/CropBox", "/Rotate", "/UserUnit", "/AA")
_ANNOT_KEYS = ("/Subtype", "/Rect", "/AP", "/AS", "/F", "/Contents", "/OC", "/A", "/AA")
_CATALOG_KEYS = {
    "/OCProperties": "the optional content (layer) settings changed",
    "/OpenAction": "the action run on opening changed",
    "/AA": "the document's actions changed",
    "/Names": "the document's scripts, embedded files or named destinations changed",
}
"""Catalog entries that change what a reader sees or what the viewer does."""
_READ_ERRORS = (PdfError, ValueError, TypeError, KeyError, IndexError, AttributeError)
"""What pyHanko raises on a malformed object."""


class Unclassifiable(Exception):
    """The later revisions could not be compared; the message says where."""


@dataclass(frozen=True)
class Effect:
    """What the later revisions do to what a reader sees.

    ``level`` is NONE (only validation data, metadata or no-ops), FORM_FILLING (further
    signatures, form values), ANNOTATIONS (added annotations) or OTHER (a visible change:
    ``changes`` says which).
    """

    level: ModificationLevel
    changes: tuple[str, ...]


class _Budget:
    def __init__(self) -> None:
        self.left = _MAX_NODES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise Unclassifiable("the document is too large to compare revisions")


def effect_of_later_revisions(reader: PdfFileReader, signed_revision: int) -> Effect:
    """Compare the revision ``signed_revision`` with the latest one, by what a reader sees."""
    latest = reader.xrefs.total_revisions - 1
    try:
        old = reader.get_historical_resolver(signed_revision)
        new = reader.get_historical_resolver(latest)
        return _compare(old.root, new.root, _Budget())
    except Unclassifiable:
        raise
    except _READ_ERRORS as exc:
        lines = str(exc).strip().splitlines()
        raise Unclassifiable(lines[0] if lines else type(exc).__name__) from None
    except RecursionError:
        raise Unclassifiable("the document structure is nested too deeply") from None


def _compare(old_root, new_root, budget: _Budget) -> Effect:
    visible: list[str] = []
    level = ModificationLevel.NONE
    old_pages, new_pages = _pages(old_root), _pages(new_root)
    if len(old_pages) != len(new_pages):
        visible.append(f"the page count changed from {len(old_pages)} to {len(new_pages)}")
    for number, (old, new) in enumerate(zip(old_pages, new_pages, strict=False), start=1):
        if _content(old) != _content(new):
            visible.append(f"the content of page {number} changed")
        for key in _PAGE_KEYS:
            if not _same(old.get(key), new.get(key), budget):
                visible.append(f"{key[1:]} of page {number} changed")
        annot_level, annot_changes = _annotations(old, new, number, budget)
        level = max(level, annot_level, key=lambda lv: lv.value)
        visible.extend(annot_changes)
    for key, change in _CATALOG_KEYS.items():
        if not _same(
            old_root.raw_get(key) if key in old_root else None,
            new_root.raw_get(key) if key in new_root else None,
            budget,
        ):
            visible.append(change)
    if not _same(_xfa(old_root), _xfa(new_root), budget):
        visible.append("the XFA form changed")
    if _field_values(old_root, budget) != _field_values(new_root, budget):
        level = max(level, ModificationLevel.FORM_FILLING, key=lambda lv: lv.value)
    if visible:
        return Effect(ModificationLevel.OTHER, tuple(visible))
    return Effect(level, ())


def _xfa(root):
    acroform = _get(root, "/AcroForm")
    return acroform.raw_get("/XFA") if acroform is not None and "/XFA" in acroform else None


def _get(dictionary, key: str):
    value = dictionary.get(key) if isinstance(dictionary, generic.DictionaryObject) else None
    return None if value is None else value.get_object()


def _pages(root) -> list[generic.DictionaryObject]:
    """Leaf pages in order, with inherited attributes filled in."""
    pages: list[generic.DictionaryObject] = []

    def walk(node, inherited: dict, depth: int) -> None:
        if depth > 64 or len(pages) > _MAX_PAGES:
            raise Unclassifiable("the page tree is too deep or too large")
        node = node.get_object()
        here = {**inherited, **{k: node[k] for k in _PAGE_KEYS if k in node}}
        if node.get("/Type") == "/Pages" or "/Kids" in node:
            for kid in node["/Kids"]:
                walk(kid, here, depth + 1)
        else:
            page = generic.DictionaryObject({**here, **node})
            pages.append(page)

    walk(root["/Pages"], {}, 0)
    return pages


def _content(page: generic.DictionaryObject) -> bytes:
    contents = _get(page, "/Contents")
    if contents is None:
        return b""
    streams = contents if isinstance(contents, generic.ArrayObject) else [contents]
    return b"\n".join(_stream_data(s.get_object()) for s in streams)


def _stream_data(stream) -> bytes:
    """Decoded bytes of a content stream; the encoded ones when it does not decode."""
    if not isinstance(stream, generic.StreamObject):
        raise Unclassifiable("a page content entry is not a stream")
    try:
        return stream.data
    except (*_READ_ERRORS, NotImplementedError, AssertionError):
        # pyHanko's PNG predictor asserts on malformed rows; compare what is stored.
        return stream.encoded_data


def _annotations(old_page, new_page, number: int, budget: _Budget):
    old_annots, new_annots = _annot_map(old_page), _annot_map(new_page)
    changes = []
    level = ModificationLevel.NONE
    for key, old in old_annots.items():
        new = new_annots.get(key)
        if new is None:
            changes.append(f"an annotation on page {number} was removed")
            continue
        if not all(_same(old.get(k), new.get(k), budget) for k in _ANNOT_KEYS):
            changes.append(f"an annotation on page {number} looks different")
    for key, new in new_annots.items():
        if key in old_annots:
            continue
        if _is_signature_widget(new):
            level = max(level, ModificationLevel.FORM_FILLING, key=lambda lv: lv.value)
        else:
            level = ModificationLevel.ANNOTATIONS
    return level, changes


def _annot_map(page) -> dict:
    """Annotations keyed by object number (by position for direct ones)."""
    annots = _get(page, "/Annots")
    found = {}
    for index, item in enumerate(annots or ()):
        key = item.idnum if isinstance(item, generic.IndirectObject) else f"#{index}"
        value = item.get_object()
        if isinstance(value, generic.DictionaryObject):
            found[key] = value
    return found


def _is_signature_widget(annot: generic.DictionaryObject) -> bool:
    field = annot
    for _ in range(32):
        if field.get("/FT") == "/Sig":
            return True
        parent = _get(field, "/Parent")
        if parent is None:
            return False
        field = parent
    return False


def _field_values(root, budget: _Budget) -> dict[str, object]:
    """Fully qualified name → value of every non-signature terminal form field."""
    acroform = _get(root, "/AcroForm")
    values: dict[str, object] = {}

    def walk(field, prefix: str, inherited_ft, depth: int) -> None:
        budget.spend()
        if depth > 32:
            raise Unclassifiable("the form field tree is too deep")
        field = field.get_object()
        name = f"{prefix}.{field.get('/T', '')}" if prefix else str(field.get("/T", ""))
        ft = field.get("/FT", inherited_ft)
        kids = _get(field, "/Kids")
        if kids and any("/T" in kid.get_object() for kid in kids):
            for kid in kids:
                walk(kid, name, ft, depth + 1)
        elif ft != "/Sig":
            values[name] = _plain(field.get("/V"), budget, 0)

    for field in _get(acroform, "/Fields") or ():
        walk(field, "", None, 0)
    return values


def _plain(value, budget: _Budget, depth: int) -> object:
    """A comparable Python form of a (small) PDF value such as a field value."""
    budget.spend()
    if depth > 16:
        raise Unclassifiable("a form value is nested too deeply")
    value = value.get_object() if value is not None else None
    if isinstance(value, generic.StreamObject):
        return value.encoded_data
    if isinstance(value, generic.ArrayObject):
        return tuple(_plain(v, budget, depth + 1) for v in value)
    if isinstance(value, generic.DictionaryObject):
        return tuple(sorted((k, repr(_plain(v, budget, depth + 1))) for k, v in value.items()))
    return value


def _same(old, new, budget: _Budget) -> bool:
    """Equal by value, following references in each revision; cycles are assumed equal."""
    return _same_at(old, new, budget, set())


def _same_at(old, new, budget: _Budget, seen: set) -> bool:
    budget.spend()
    if isinstance(old, generic.IndirectObject) and isinstance(new, generic.IndirectObject):
        pair = (old.idnum, new.idnum)
        if pair in seen:
            return True
        seen.add(pair)
    old = old.get_object() if old is not None else None
    try:
        new = new.get_object() if new is not None else None
    except _READ_ERRORS:
        # Readable when signed, unreadable now: an object the reader needs was replaced by
        # something broken — the "hide" shadow attack does exactly this.
        return False
    if type(old) is not type(new):
        return False
    if isinstance(old, generic.NullObject):
        return True  # pyHanko's null objects do not compare equal to each other
    if (
        isinstance(old, generic.DictionaryObject)
        and old.get("/Type") == new.get("/Type") == "/Page"
    ):
        return True  # a reference to a page (a destination): pages are compared one by one
    if isinstance(old, generic.StreamObject):
        # Encoded bytes and filters: a copy is byte-identical, and images need no decoding.
        return _same_dict(old, new, budget, seen, ("/Length",)) and (
            old.encoded_data == new.encoded_data
        )
    if isinstance(old, generic.DictionaryObject):
        return _same_dict(old, new, budget, seen, ("/Parent", "/P"))
    if isinstance(old, generic.ArrayObject):
        return len(old) == len(new) and all(
            _same_at(a, b, budget, seen) for a, b in zip(old, new, strict=True)
        )
    return old == new


def _same_dict(old, new, budget: _Budget, seen: set, skip: tuple[str, ...]) -> bool:
    keys = set(_keys(old, skip))
    if keys != set(_keys(new, skip)):
        return False
    return all(_same_at(old.raw_get(k), new.raw_get(k), budget, seen) for k in keys)


def _keys(dictionary, skip: tuple[str, ...]) -> Iterator[str]:
    return (k for k in dictionary if k not in skip)
