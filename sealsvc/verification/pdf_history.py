"""pyHanko's copying of an object into a revision's view, without its waste.

Every object a :class:`~pyhanko.pdf_utils.reader.HistoricalResolver` hands out is a copy
whose dictionaries, arrays and references name the view instead of the reader
(``_subsume_object``): the revision checks of a B-LTA licence read the catalog, the
information dictionary and the XMP stream of three or four revisions through such views.
pyHanko's copy builds a new ``Reference`` (a frozen dataclass) for every value it visits
before looking at its type, and throws it away for the names, numbers and strings that
make up most of a dictionary, then passes each copied dictionary through its
constructor's key check again.  :func:`subsume_object` builds the same copy: a reference
only for the containers that keep one, a dictionary's entries set at once (every key of
a dictionary read from a file is already a name — any other goes to pyHanko).  Streams,
encrypted objects and subclasses it does not know go to pyHanko's own method.
"""

from __future__ import annotations

from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver

__all__ = ["subsume_object"]

_subsume_object_stock = HistoricalResolver._subsume_object
_CONTAINERS = (generic.DecryptedObjectProxy, generic.IndirectObject, generic.DictionaryObject,
               generic.ArrayObject)  # fmt: skip
"""What pyHanko's method copies; anything else it returns as it is."""
_update = dict.update


def subsume_object(self: HistoricalResolver, obj: Any) -> Any:
    """``HistoricalResolver._subsume_object``: ``obj`` as seen from this revision."""
    # pyHanko reads the container's numbers first, for every object: one not read from a
    # file, or held by the trailer (no numbers), raises there
    container: Any = obj.get_container_ref()
    idnum, generation = container.idnum, container.generation
    kind = type(obj)
    if kind is generic.IndirectObject:
        return generic.IndirectObject(obj.idnum, obj.generation, self)
    if kind is generic.DictionaryObject:
        copied = {k: subsume_object(self, v) for k, v in obj.items()}
        if any(type(k) is not generic.NameObject for k in copied):
            return _subsume_object_stock(self, obj)
        result: Any = generic.DictionaryObject()
        _update(result, copied)
    elif kind is generic.ArrayObject:
        result = generic.ArrayObject([subsume_object(self, v) for v in obj])
    elif isinstance(obj, _CONTAINERS):  # a stream, an encrypted object's proxy, a subclass
        return _subsume_object_stock(self, obj)
    else:  # names, numbers, strings: shared with the reader, as pyHanko does
        return obj
    result.container_ref = generic.Reference(idnum, generation, self)
    return result


# Pinned reach-in: HistoricalResolver.get_object calls self._subsume_object, and the copy
# of a stream or a proxy (pyHanko's) calls it back for what the stream holds; no public
# hook selects it.  tests/test_pdf_reading.py reads every object of every revision through
# the views both ways and pins the source of the method whose rules are copied.
HistoricalResolver._subsume_object = subsume_object  # type: ignore[method-assign]
