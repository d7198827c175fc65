"""Which incremental updates of a PDF only add validation data or one signature.

A B-LT seal is followed by a revision that adds the Document Security Store: the catalog
gains ``/DSS``, and certificates, CRLs and OCSP answers are written as new streams.
pyHanko's difference analysis proves that harmless too, but it re-reads every object of
the signed revision to do so, once per signature and later revision — most of the time
spent verifying a B-LT licence.  :class:`RevisionIndex` recognises such a revision
directly, from the revision before it, once per document:

- nothing is freed; the trailer keeps its ``/Root``, ``/Info`` and ``/Encrypt``;
- the catalog differs from the previous one in ``/DSS`` only;
- the objects it overwrites are the catalog, the document information dictionary
  (direct values only: ``/ModDate`` …), and objects that have only ever been validation
  data: added by such a revision and referenced since by such revisions alone (the
  previous DSS dictionary, its ``/VRI`` …) — never an object the signed content uses;
- every object it adds is referenced nowhere in the file before it (the bytes and the
  object streams of each revision are searched once).  Such an object can then only be
  reached through what the revision writes — through the DSS — so no page, annotation
  or form field can see the new data, not even through a reference that dangled before;
- pyHanko's whole-file rules approve every object it writes but orphans (new objects
  referenced nowhere, up to the revision itself: pyHanko's analysis explains them) —
  compared with the revision before, or, where they refuse it there (a DSS update that
  rewrites the ``/VRI`` entries of the DSS before), compared with the signed revision
  of each signature judged (:meth:`RevisionIndex.adds_only_validation_data_since`).

A revision that only adds and fills one signature or document time-stamp field is
recognised the same way (:meth:`RevisionIndex.adds_one_signature`), which keeps the cost
of a file with many signatures linear instead of signatures × revisions.  Anything else
is left to pyHanko's analysis (:func:`.pdf_signatures.modifications`).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    ModificationLevel,
    SuspiciousModification,
)
from pyhanko.sign.diff_analysis.constants import ACROFORM_EXEMPT_STRICT_COMPARISON
from pyhanko.sign.diff_analysis.rules.metadata_rules import MetadataUpdateRule

from sealsvc.verification.introductions import remember_introductions

__all__ = ["RevisionIndex"]

_MAX_REFERENCES = 200_000
"""Most reference candidates (each :data:`_CANDIDATE` in the file) read per document:
bounds the work a hostile file causes; beyond it pyHanko decides."""
_SAME_TRAILER_KEYS = ("/Root", "/Info", "/Encrypt")
_READ_ERRORS = (
    PdfError,
    SuspiciousModification,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
)
"""Malformed input, or a rule of pyHanko refusing: the cheap path gives up, pyHanko decides."""
_DSS_ENTRIES = ("/Certs", "/CRLs", "/OCSPs", "/VRI")
_WHOLE_FILE_RULES = [
    rule
    for rule in DEFAULT_DIFF_POLICY.global_rules
    if not isinstance(getattr(rule, "rule", None), MetadataUpdateRule)
]
"""pyHanko's whole-file rules but its XMP rule, which :meth:`RevisionIndex._metadata_update`
applies once per version of the stream (were pyHanko to wrap its rules otherwise, the
XMP rule would simply run here too)."""


class _Exhausted(Exception):
    """The document is too large to classify cheaply; pyHanko decides."""


_SPACE = rb"[\x00\t\n\x0b\x0c\r ]"
_CANDIDATE = re.compile(rb"R(?<=" + _SPACE + rb"R)(?![a-zA-Z])")
"""An ``R`` after whitespace and before no letter: where a reference may end."""
_REFERENCE_ENDING = re.compile(
    rb"(?<![0-9])([0-9]{1,20})" + _SPACE + rb"{1,20}([0-9]{1,20})" + _SPACE + rb"{1,20}R\Z"
)
"""``n g R`` ending where the search ends, ``n`` a whole run of digits."""
_LONGEST_REFERENCE = 81
"""Bytes the longest :data:`_REFERENCE_ENDING` spans (pyHanko's own look-ahead is 20)."""
_LTA_FIELD_KEYS = frozenset({"/AP", "/Lock", "/SV"})
"""Entries of a new signature field whose new objects pyHanko rates FORM_FILLING."""


class RevisionIndex:
    """Per-revision facts of one document, each computed once (cost linear in the file)."""

    def __init__(self, reader: PdfFileReader, pdf: bytes, signed: Collection[int] = ()) -> None:
        """``signed``: the revisions that hold a signature of the file.  Such a revision
        writes a signature value reachable from the form, so it never only adds validation
        data; it is not examined for that (one revision read less per signature)."""
        self._reader = reader
        # pyHanko's DSS rule, applied here from each signed revision, asks for the same
        # objects' introducing revisions again and again (see the module).
        remember_introductions(reader)
        self._pdf = pdf
        self._signed = frozenset(signed)
        self._budget = _MAX_REFERENCES
        self._only_validation_data: dict[int, bool] = {}
        self._signing: dict[int, ModificationLevel | None] = {}
        self._referencing: dict[tuple[int, int], list[int]] = {}
        """(idnum, generation) → the revisions whose bytes reference it, in order (those
        before ``_scanned`` are read)."""
        self._occurrences: dict[tuple[int, int, int], int] = {}
        """(idnum, generation, revision) → how often the revision's bytes reference it."""
        self._scanned = 0
        self._scanned_to = 0
        self._streams_scanned: set[int] = set()
        self._field_names: dict[tuple, str] = {}
        self._existence: dict[tuple[int, int, int], bool] = {}
        self._written_in: dict[int, dict[tuple[int, int], generic.Reference]] = {}
        self._xmp: dict[tuple, bool] = {}
        self._rules_per_base: dict[int, set[tuple[int, int]]] = {}
        """Revisions that add validation data as far as their structure shows but whose
        whole-file rules refuse them compared with the revision before (a rewritten
        ``/VRI`` entry): the objects they write that those rules must approve, compared
        with each signed revision (:meth:`adds_only_validation_data_since`)."""
        self._since: dict[tuple[int, int], bool | SuspiciousModification] = {}

    def adds_only_validation_data(self, revision: int) -> bool:
        """Whether ``revision`` (≥ 1) only adds or updates the DSS, as described above."""
        # In order: whether an object is DSS data depends on the revisions before.  (Each
        # signature asks about every later revision: going from where the last question
        # stopped keeps that linear.)
        while len(self._only_validation_data) <= revision:
            earlier = len(self._only_validation_data)
            try:
                verdict = earlier > 0 and earlier not in self._signed
                verdict = verdict and self._classify(earlier)
            except (*_READ_ERRORS, _Exhausted, RecursionError):
                verdict = False
            self._only_validation_data[earlier] = verdict
        return self._only_validation_data[revision]

    def adds_only_validation_data_since(
        self, base: int, revision: int
    ) -> bool | SuspiciousModification:
        """Whether ``revision`` only adds validation data, judged for a signature of
        revision ``base`` as pyHanko judges it — its whole-file rules applied from ``base``.

        ``True`` also for a DSS update that rewrites ``/VRI`` entries (lt-short.pdf's, as
        pyHanko's writer and others produce them): pyHanko's ``DSSCompareRule`` refuses
        the revision compared with the one before, where those entries were, but not
        from a signed revision that did not hold them yet.  The refusal (a
        :class:`SuspiciousModification`) when the rules refuse it from ``base`` too: so
        does pyHanko's analysis, which applies them after its costly part.  ``False``
        where pyHanko's analysis must decide.
        """
        if self.adds_only_validation_data(revision):
            return True
        needed = self._rules_per_base.get(revision)
        if needed is None or base >= revision:
            return False
        key = (base, revision)
        if key not in self._since:
            reader = self._reader
            try:
                old = reader.get_historical_resolver(base)
                approved = _approved(old, reader.get_historical_resolver(revision))
                self._since[key] = approved is not None and needed <= approved
            except SuspiciousModification as exc:
                self._since[key] = exc
            except (*_READ_ERRORS, RecursionError):
                self._since[key] = False
        return self._since[key]

    def adds_one_signature(self, revision: int) -> ModificationLevel | None:
        """The level pyHanko gives ``revision`` if it only adds and fills one signature
        field (see :meth:`_classify_signing`), else ``None``.

        Valid for judging a signature that neither certifies nor locks fields: those
        permissions depend on the signature judged, and pyHanko applies them.
        """
        if revision not in self._signing:
            try:
                level = self._classify_signing(revision) if revision > 0 else None
            except (*_READ_ERRORS, _Exhausted, RecursionError):
                level = None
            self._signing[revision] = level
        return self._signing[revision]

    def _classify_signing(self, revision: int) -> ModificationLevel | None:
        """A revision that adds one signature (or document time-stamp) field and fills it:

        - nothing freed; trailer ``/Root``, ``/Info``, ``/Encrypt`` kept; the catalog
          differs at most in ``/AcroForm``, ``/Extensions`` and ``/Version``;
        - the form's ``/Fields`` are the previous ones plus one new field, a signature
          field merged with its widget, with a name no previous field has; of the form's
          other entries only those pyHanko exempts (``/DR``, ``/DA``, ``/Q``,
          ``/NeedAppearances``) may change — new default resources count as FORM_FILLING;
        - a page written by the revision differs only in ``/Annots``: the previous
          annotations plus that widget;
        - the field, its signature dictionary and every other object written is new and
          referenced nowhere in the file before (so reachable only through the new
          field, the new default resources or the catalog's own entries), or the
          catalog, the form, its ``/Fields`` array, such a page or its ``/Annots``
          array, or the plain information dictionary.

        Level as pyHanko's rules give it: LTA_UPDATES for an invisible document
        time-stamp (whose field has no appearance, lock or seed value, in a form
        whose other entries are unchanged), FORM_FILLING otherwise.  The XMP metadata
        stream may be rewritten as :meth:`_metadata_update` allows.
        """
        reader = self._reader
        new = reader.get_historical_resolver(revision)
        old = reader.get_historical_resolver(revision - 1)
        if not _same_trailer(new, old):
            return None
        new_root, old_root = new.root, old.root
        changed = {k for k in {*new_root, *old_root} if _raw(new_root, k) != _raw(old_root, k)}
        if changed - {"/AcroForm", "/Extensions", "/Version"}:
            return None
        new_form = new_root["/AcroForm"]
        old_form = old_root.get("/AcroForm")
        old_form = None if old_form is None else old_form.get_object()
        if not isinstance(new_form, generic.DictionaryObject):
            return None
        old_fields = _refs(old_form["/Fields"]) if old_form is not None else []
        new_fields = _refs(new_form["/Fields"])
        if new_fields is None or old_fields is None or len(new_fields) != len(old_fields) + 1:
            return None
        if new_fields[:-1] != old_fields:
            return None
        for key in {*new_form, *(old_form or ())} - ACROFORM_EXEMPT_STRICT_COMPARISON:
            if old_form is None or _raw(new_form, key) != _raw(old_form, key):
                return None
        form_changed = old_form is None or any(
            _raw(new_form, key) != _raw(old_form, key)
            for key in ACROFORM_EXEMPT_STRICT_COMPARISON - {"/Fields"}
        )
        metadata = self._metadata_update(new, old, revision)
        if metadata is None:
            return None
        new_resources = "/DR" in new_form and (
            old_form is None or _raw(new_form, "/DR") != _raw(old_form, "/DR")
        )
        field_ref = new_form["/Fields"].raw_get(len(old_fields))
        field = new(field_ref.reference)
        if not (
            isinstance(field, generic.DictionaryObject)
            and field.get("/FT") == "/Sig"
            and field.get("/Subtype") == "/Widget"
            and "/Kids" not in field
            and "/Parent" not in field
        ):
            return None
        old_names = {self._field_name(ref, old, revision - 1) for ref in _field_refs(old_form)}
        if str(field.get("/T")) in old_names:
            return None
        value = field.raw_get("/V") if "/V" in field else None
        written = self._written(revision)
        if not isinstance(value, generic.IndirectObject):
            return None
        for ref in (field_ref, value):  # the field and its signature are new objects
            if not isinstance(ref, generic.IndirectObject):
                return None
            if (ref.idnum, ref.generation) not in written or self._existed(ref, revision):
                return None
        value = new(value.reference)
        if not isinstance(value, generic.DictionaryObject):
            return None

        field_key = (field_ref.idnum, field_ref.generation)
        checked = {
            (new.root_ref.idnum, new.root_ref.generation),
            *_indirect_keys(new_root, "/AcroForm"),
            *_indirect_keys(new_form, "/Fields"),
            *metadata,
        }
        pages_with_widget = 0
        for key, ref in written.items():
            if key in checked or not self._existed(ref, revision):
                continue
            item = new(ref)
            if isinstance(item, generic.DictionaryObject) and item.get("/Type") == "/Page":
                verdict = _page_gains_widget(old(ref), item, field_key)
                if verdict is None:
                    return None
                pages_with_widget += verdict
                checked.add(key)
                checked.update(_indirect_keys(item, "/Annots"))
        if pages_with_widget > 1:
            return None
        info = new.trailer_view.raw_get("/Info") if "/Info" in new.trailer_view else None
        if not self._only_new_objects_besides(new, revision, checked, info):
            return None
        visible = _has_area(field)
        if "/Type" in value and value.raw_get("/Type") == "/DocTimeStamp" and not visible:
            if new_resources:
                return ModificationLevel.FORM_FILLING
            if form_changed or not _LTA_FIELD_KEYS.isdisjoint(field):
                # pyHanko rates an appearance's new objects, or a form entry it exempts,
                # by rules this check does not repeat: its analysis decides.
                return None
            return ModificationLevel.LTA_UPDATES
        return ModificationLevel.FORM_FILLING

    def _field_name(self, ref, resolver, revision: int) -> str:
        """The ``/T`` of field ``ref`` as of ``revision``, read once per version of the field.

        Each signing revision compares its new field's name with every earlier field's;
        reading them all again for every revision made a file with many signatures cost
        signatures².  The same object version (same place in the file) has the same
        direct ``/T``; an indirect one is resolved every time.
        """
        key = (ref.idnum, ref.generation, self._reader.xrefs.get_historical_ref(ref, revision))
        name = self._field_names.get(key)
        if name is None:
            field = resolver(ref)
            name = str(field.get("/T"))
            if not isinstance(
                field.raw_get("/T") if "/T" in field else None, generic.IndirectObject
            ):
                self._field_names[key] = name
        return name

    def _written(self, revision: int) -> dict[tuple[int, int], generic.Reference]:
        """The objects ``revision`` writes, by (idnum, generation): pyHanko builds a new
        set of references each time it is asked, and each check here asks again."""
        written = self._written_in.get(revision)
        if written is None:
            refs = self._reader.xrefs.explicit_refs_in_revision(revision)
            written = self._written_in[revision] = {(r.idnum, r.generation): r for r in refs}
        return written

    def _existed(self, ref, revision: int) -> bool:
        """Whether ``ref`` resolves before ``revision``; remembered, as pyHanko searches
        the xref sections one by one (the checks of one revision ask about each object
        written more than once)."""
        key = (ref.idnum, ref.generation, revision)
        found = self._existence.get(key)
        if found is None:
            found = self._reader.xrefs.get_historical_ref(ref, revision - 1) is not None
            self._existence[key] = found
        return found

    def _classify(self, revision: int) -> bool:
        reader = self._reader
        new = reader.get_historical_resolver(revision)
        old = reader.get_historical_resolver(revision - 1)
        if not _same_trailer(new, old):
            return False
        root_ref = new.root_ref
        new_root, old_root = new.root, old.root
        if set(new_root) - {"/DSS"} != set(old_root) - {"/DSS"} or "/DSS" not in new_root:
            return False
        if any(_raw(new_root, k) != _raw(old_root, k) for k in new_root if k != "/DSS"):
            return False
        # pyHanko's own whole-file rules (catalog, /Info, XMP, xref and object streams,
        # and the DSS structure: stream arrays, /VRI entries kept) — cheap: they read what
        # the revision writes.  What they approve is what pyHanko would explain; the
        # costly part of its analysis, every path through which the signed revision
        # reaches an overwritten object, is replaced by reference counts.
        metadata = self._metadata_update(new, old, revision)
        if metadata is None:
            return False
        refused = False
        try:
            approved = _approved(old, new)
        except SuspiciousModification:  # from the revision before; perhaps not from a base
            approved, refused = set(), True
        if approved is None:
            return False
        self._references_until(revision)
        replaceable = {(root_ref.idnum, root_ref.generation), *metadata}
        needed = set()
        for key, ref in self._written(revision).items():
            if key in metadata:
                continue
            if self._orphan(ref, revision):
                continue  # pyHanko's analysis explains it (LTA_UPDATES)
            if not refused and key not in approved:
                return False
            needed.add(key)
            if self._existed(ref, revision) and self._only_dss_data(ref, revision):
                holder = self._dss_holder(key, new, old)
                if holder is not None and self._held_only_by(key, revision, holder):
                    replaceable.add(key)
        info = new.trailer_view.raw_get("/Info") if "/Info" in new.trailer_view else None
        if not self._only_new_objects_besides(new, revision, replaceable, info):
            return False
        if refused:
            self._rules_per_base[revision] = needed
            return False
        return True

    def _orphan(self, ref, revision: int) -> bool:
        """Whether ``ref`` is an object ``revision`` adds that nothing references, up to and
        including that revision — an orphan in pyHanko's sense (a new object number that
        the trailer and the objects the revision overwrites do not reach), which its
        analysis explains at LTA_UPDATES (lt-short.pdf's DSS updates each write an
        unused cross-reference stream object)."""
        previous = self._reader.get_historical_resolver(revision - 1)
        if not previous.is_ref_unassignable(ref):
            return False
        return (ref.idnum, ref.generation) not in self._references_until(revision + 1)

    def _dss_holder(self, key: tuple[int, int], new, old):
        """For an overwritten object that is the DSS dictionary or one of its arrays or
        its ``/VRI`` — kept under the same reference, as pyHanko allows — the function
        naming, per revision, the reference that revision's DSS holds there; ``None``
        for any other object (pyHanko approves no other overwrite in the DSS)."""
        dss = _reference_key(new.root, "/DSS")
        if dss is not None and dss == _reference_key(old.root, "/DSS") and key == dss:
            return lambda revision: self._dss_entry(revision, "/DSS")
        new_dss, old_dss = new.root["/DSS"], old.root.get("/DSS")
        for name in _DSS_ENTRIES:
            value = _reference_key(new_dss, name)
            if value == key and old_dss is not None and value == _reference_key(old_dss, name):
                return lambda revision, name=name: self._dss_entry(revision, name)
        return None

    def _dss_entry(self, revision: int, name: str) -> tuple[int, int] | None:
        """The reference the catalog (``/DSS``) or the DSS dictionary (its entries)
        written by ``revision`` holds under ``name``; ``None`` if it writes neither."""
        resolver = self._reader.get_historical_resolver(revision)
        written = self._written(revision)
        root_written = (resolver.root_ref.idnum, resolver.root_ref.generation) in written
        if name == "/DSS":
            return _reference_key(resolver.root, "/DSS") if root_written else None
        dss = _reference_key(resolver.root, "/DSS")
        if (dss in written) if dss is not None else root_written:
            value = resolver.root.get("/DSS", None)
            if isinstance(value, generic.DictionaryObject):
                return _reference_key(value, name)
        return None

    def _only_dss_data(self, ref, revision: int) -> bool:
        """Whether ``ref`` has only ever been validation data before ``revision``: added by
        a revision that only added validation data (so then referenced nowhere else), and
        referenced since by such revisions alone — a page, an annotation or a form field
        that pointed at it would be written by another kind of revision.  An object the
        signed content uses can therefore not be overwritten as "DSS"."""
        try:
            introduced = self._reader.xrefs.get_introducing_revision(ref)
        except KeyError:
            return False
        if not (0 < introduced < revision and self._only_validation_data.get(introduced)):
            return False
        referencing = self._referencing.get((ref.idnum, ref.generation), ())
        return all(self._only_validation_data.get(r, False) for r in referencing if r < revision)

    def _only_new_objects_besides(
        self, new, revision: int, replaceable: set[tuple[int, int]], info
    ) -> bool:
        """Whether ``revision`` overwrites only ``replaceable`` objects (and the plain
        information dictionary) and every object it adds was referenced nowhere before."""
        referencing = self._references_until(revision)
        for key, ref in self._written(revision).items():
            if not self._existed(ref, revision):
                if referencing.get(key, [revision])[0] < revision:
                    return False  # it would fill a reference that dangled before
                continue
            if key in replaceable or self._plain_info(ref, info, new, revision):
                continue
            return False
        return True

    def _metadata_update(self, new, old, revision: int) -> set[tuple[int, int]] | None:
        """The XMP metadata stream judged as pyHanko's ``MetadataUpdateRule`` does.

        pyHanko's writer rewrites the catalog's ``/Metadata`` stream in place (its
        ``/ModDate``) with every incremental update, so each revision of a licence
        overwrites it.  pyHanko allows that when the stream is well-formed XMP in both
        revisions (checked here with its own function) and the catalog is the only
        place that reaches it — otherwise the other paths stay unexplained.  The second
        is read from the reference counts of every earlier revision (:meth:`_held_only_by`),
        and the new stream may reference nothing (pyHanko approves the stream alone).

        Returns the objects the revision may thereby overwrite (the stream, or nothing),
        ``None`` where pyHanko would object or this check cannot tell.
        """
        if "/Metadata" not in new.root:
            return set()  # pyHanko's rule has nothing to check
        for root, version in ((new.root, revision), (old.root, revision - 1)):
            if "/Metadata" not in root:
                continue
            if not isinstance(root.raw_get("/Metadata"), generic.IndirectObject):
                return None
            if not self._well_formed_xmp(root.get_value_as_reference("/Metadata"), version):
                return None
        ref = new.root.raw_get("/Metadata").reference
        key = (ref.idnum, ref.generation)
        if key not in self._written(revision):
            return set()
        if not self._existed(ref, revision):
            return set()  # a new object: judged with every other new one
        if not (
            isinstance(new(ref), generic.StreamObject)
            and _references_nothing(new(ref))
            and self._held_only_by(key, revision, self._catalog_metadata)
        ):
            return None
        return {key}

    def _well_formed_xmp(self, ref, revision: int) -> bool:
        """pyHanko's XMP check of ``ref`` as of ``revision``, once per version of the
        stream (each revision's check reads the stream of the one before it again) and
        once per content: pyHanko's writer rewrites the stream with every incremental
        update, most often with the same bytes."""
        where = (ref.idnum, ref.generation, self._reader.xrefs.get_historical_ref(ref, revision))
        found = self._xmp.get(where)
        if found is None:
            stream = ref.get_object()
            what = (
                (ref.idnum, ref.generation, stream.encoded_data, repr(dict(stream)))
                if isinstance(stream, generic.StreamObject)
                else where
            )
            found = self._xmp.get(what)
            if found is None:
                try:
                    MetadataUpdateRule.is_well_formed_xml(ref)
                    found = True
                except SuspiciousModification:
                    found = False
            self._xmp[where] = self._xmp[what] = found
        return found

    def _held_only_by(self, key: tuple[int, int], revision: int, holder) -> bool:
        """Whether every reference to ``key`` written before ``revision`` is the one that
        ``holder(r)`` (the catalog's ``/Metadata``, the trailer's ``/Info`` as written in
        revision ``r``) makes: a revision that mentions it once, where that holder names
        it — so no page, annotation or other dictionary reaches it."""
        self._references_until(revision)
        for earlier in self._referencing.get(key, ()):
            if earlier >= revision:
                break
            if self._occurrences[(*key, earlier)] != 1 or holder(earlier) != key:
                return False
        return True

    def _catalog_metadata(self, revision: int) -> tuple[int, int] | None:
        """The ``/Metadata`` reference of the catalog, if ``revision`` writes the catalog."""
        resolver = self._reader.get_historical_resolver(revision)
        root = resolver.root_ref
        if (root.idnum, root.generation) not in self._written(revision):
            return None
        return _reference_key(resolver.root, "/Metadata")

    def _trailer_info(self, revision: int) -> tuple[int, int] | None:
        """The ``/Info`` reference of the trailer of ``revision``."""
        return _reference_key(self._reader.get_historical_resolver(revision).trailer_view, "/Info")

    def _plain_info(self, ref, info, new, revision: int) -> bool:
        """``ref`` is the document information dictionary, as pyHanko's ``DocInfoRule``
        allows it to be rewritten: a dictionary (not a stream) before and after, reached
        only through the trailer, and referencing nothing (pyHanko approves it alone)."""
        if not isinstance(info, generic.IndirectObject) or info.reference != ref:
            return False
        old = self._reader.get_historical_resolver(revision - 1)
        key = (ref.idnum, ref.generation)
        return (
            isinstance(new(ref), generic.DictionaryObject)
            and not isinstance(new(ref), generic.StreamObject)
            and not isinstance(old(ref), generic.StreamObject)
            and _references_nothing(new(ref))
            and self._held_only_by(key, revision, self._trailer_info)
        )

    def _references_until(self, revision: int) -> dict[tuple[int, int], list[int]]:
        """Each reference written in the file before ``revision`` (a superset: see
        :meth:`_scan`) with the revisions that write it, in order; the bytes and object
        streams of each revision are read once, in order, whatever order revisions are
        asked about in."""
        xrefs = self._reader.xrefs
        while self._scanned < revision:
            end = xrefs.get_xref_container_info(self._scanned).end_location
            eof = self._pdf.find(b"%%EOF", end)
            end = len(self._pdf) if eof < 0 else eof
            self._scan(self._pdf[self._scanned_to : end], self._scanned)
            self._scanned_to = max(self._scanned_to, end)
            for stream_ref in xrefs.object_streams_used_in(self._scanned):
                if stream_ref.idnum not in self._streams_scanned:
                    self._streams_scanned.add(stream_ref.idnum)
                    self._scan(self._reader.get_object(stream_ref).data, self._scanned)
            self._scanned += 1
        return self._referencing

    def _scan(self, data: bytes, revision: int) -> None:
        """Add every ``idnum gen R`` in ``data`` that pyHanko could read as a reference.

        pyHanko reads a reference only where its 20-byte look-ahead matches
        ``(\\d+)\\s+(\\d+)\\s+R[^a-zA-Z]``: numbers and ``R`` apart by whitespace (never
        a comment), no letter after the ``R``.  Found in two steps: each ``R`` after
        whitespace and before no letter (a plain search), then the two numbers before it,
        each a whole run of digits (whitespace here also counts ``\\0``: a superset).
        Inside strings and streams this also finds bytes that only look like a
        reference, which only makes the check stricter."""
        ending = _REFERENCE_ENDING.search
        for candidate in _CANDIDATE.finditer(data):
            self._spend()
            end = candidate.end()
            found = ending(data, max(0, end - _LONGEST_REFERENCE), end)
            if found is None:
                continue
            idnum, generation = int(found[1]), int(found[2])
            revisions = self._referencing.setdefault((idnum, generation), [])
            if not revisions or revisions[-1] != revision:
                revisions.append(revision)
            key = (idnum, generation, revision)
            self._occurrences[key] = self._occurrences.get(key, 0) + 1

    def _spend(self) -> None:
        self._budget -= 1
        if self._budget < 0:
            raise _Exhausted


def _approved(old, new) -> set[tuple[int, int]] | None:
    """The objects pyHanko's whole-file rules (but its XMP rule) approve as validation data
    when ``new`` is compared with ``old``; :class:`SuspiciousModification` if one refuses,
    ``None`` if one rates a change above LTA_UPDATES."""
    approved = set()
    for rule in _WHOLE_FILE_RULES:
        for level, update in rule.apply_qualified(old, new):
            if level is not ModificationLevel.LTA_UPDATES:
                return None
            approved.add((update.updated_ref.idnum, update.updated_ref.generation))
    return approved


def _same_trailer(new, old) -> bool:
    """Nothing freed, and the trailer keeps its catalog, information and encryption."""
    if new.refs_freed_in_revision():
        return False
    return all(_raw(new.trailer_view, k) == _raw(old.trailer_view, k) for k in _SAME_TRAILER_KEYS)


def _raw(dictionary: generic.DictionaryObject, key: str):
    """A comparable form of ``dictionary[key]`` without resolving references."""
    if key not in dictionary:
        return None
    value = dictionary.raw_get(key)
    if isinstance(value, generic.IndirectObject):
        return ("ref", value.idnum, value.generation)
    return repr(value)


def _refs(array) -> list[tuple[int, int]] | None:
    """(idnum, generation) of each entry of a PDF array of references; ``None`` if any
    entry is not a reference."""
    array = array.get_object() if array is not None else None
    if not isinstance(array, generic.ArrayObject):
        return None
    out = []
    for index in range(len(array)):
        item = array.raw_get(index)
        if not isinstance(item, generic.IndirectObject):
            return None
        out.append((item.idnum, item.generation))
    return out


def _field_refs(form) -> list:
    if form is None or "/Fields" not in form:
        return []
    fields = form["/Fields"]
    return [fields.raw_get(i).reference for i in range(len(fields))]


def _indirect_keys(dictionary, key: str) -> set[tuple[int, int]]:
    """The object holding ``dictionary[key]``, if it is an indirect one."""
    value = dictionary.raw_get(key) if key in dictionary else None
    if isinstance(value, generic.IndirectObject):
        return {(value.idnum, value.generation)}
    return set()


def _page_gains_widget(old_page, new_page, widget: tuple[int, int]) -> int | None:
    """1 if ``new_page`` is ``old_page`` with ``widget`` appended to its annotations, 0 if
    it is unchanged, ``None`` for any other difference (or a page that is new)."""
    if not isinstance(old_page, generic.DictionaryObject):
        return None
    for key in {*new_page, *old_page} - {"/Annots"}:
        if _raw(new_page, key) != _raw(old_page, key):
            return None
    old_annots = _refs(old_page["/Annots"]) if "/Annots" in old_page else []
    new_annots = _refs(new_page["/Annots"]) if "/Annots" in new_page else []
    if old_annots is None or new_annots is None:
        return None
    if new_annots == old_annots:
        return 0
    return 1 if new_annots == [*old_annots, widget] else None


def _has_area(annotation) -> bool:
    """Visible in pyHanko's sense: a ``/Rect`` of non-zero area."""
    try:
        x1, y1, x2, y2 = (float(v) for v in annotation["/Rect"])
    except (*_READ_ERRORS, ValueError):
        return False
    return abs(x1 - x2) * abs(y1 - y2) > 0


def _reference_key(dictionary, key: str) -> tuple[int, int] | None:
    value = dictionary.raw_get(key) if key in dictionary else None
    if isinstance(value, generic.IndirectObject):
        return (value.idnum, value.generation)
    return None


def _references_nothing(value) -> bool:
    """No indirect reference anywhere inside ``value`` (a stream's dictionary included)."""
    if isinstance(value, generic.IndirectObject):
        return False
    if isinstance(value, generic.DictionaryObject):
        return all(_references_nothing(value.raw_get(k)) for k in value)
    if isinstance(value, generic.ArrayObject):
        return all(_references_nothing(value.raw_get(i)) for i in range(len(value)))
    return True
