"""Read an OFD once and record what the 四性 checks judge (:class:`~.facts.FileFacts`).

The package is opened by :mod:`ofd.package` (hardened ZIP reading) and the document by
:mod:`ofd.reader`, which resolves every page, template, font and image and lists what it
could not find — the components check reads those gaps.  Beyond what the reader models,
every XML part is searched for what GB/T 42133 (OFD-A) keeps out of a long-term record:

* actions (GB/T 33190 §14: ``Goto``, ``URI``, ``GotoA``, ``Sound``, ``Movie``) run when the
  document or a page opens (``Event="DO"`` / ``"PO"``), and media anywhere;
* script elements (some producers' extensions; OFD itself defines none);
* resources outside the package: a ``FontFile``, ``MediaFile``, ``FileLoc`` or ``BaseLoc``
  that is a URL or a file-system path;
* audio and video resources (``MultiMedia Type="Audio"|"Video"``).

Every file in the package is also tested for being a program (:mod:`.executables`).
"""

from __future__ import annotations

import re

from lxml import etree

from ofd.errors import OfdError
from ofd.model import ImageObject, TextObject
from ofd.package import OfdPackage
from ofd.reader import read_package
from ofd.xml import parse_xml
from sealsvc.archival_check.executables import executable_reason
from sealsvc.archival_check.facts import FileFacts
from sealsvc.licences.metadata import ELEMENTS

__all__ = ["inspect_ofd"]

_CHINESE_TO_KEY = {chinese: key for key, (chinese, _) in ELEMENTS.items()}
_ACTIONS = {"URI", "GotoA", "Sound", "Movie"}
"""Action kinds that leave the document or play media (``Goto`` stays inside it)."""
_ON_OPEN = {"DO": "打开文档时", "PO": "打开页面时"}
_LOCATIONS = {"FontFile", "MediaFile", "FileLoc", "BaseLoc"}
_OUTSIDE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|\\\\|\.\./)")
"""A location that is a URL (``http:``, ``file:``), a Windows path (``C:``, ``\\\\host``)
or climbs out of the package."""


def inspect_ofd(data: bytes) -> FileFacts:
    """The facts of ``data``; a file that cannot be read gets ``problem``, never an exception."""
    try:
        package = OfdPackage.read(data)
        document = read_package(package)
    except OfdError as exc:
        return FileFacts("ofd", problem=f"OFD 无法读取：{exc}")
    active: list[str] = []
    external: list[str] = []
    long_term: list[str] = []
    for path in package:
        if path.lower().endswith(".xml"):
            try:
                root = parse_xml(package.file(path), path)
            except OfdError as exc:
                return FileFacts("ofd", problem=f"OFD 无法读取：{exc}")
            _scan(path, root, active, external, long_term)
    executables = [
        f"包内文件 {path} {reason}"
        for path in package
        if (reason := executable_reason(path, package.file(path)[:8]))
    ]
    fonts = {
        obj.font.name or obj.font.family
        for page in document.pages
        for obj in page.objects
        if isinstance(obj, TextObject) and obj.font.data is None
    }
    images = sum(
        1 for page in document.pages for obj in page.objects if isinstance(obj, ImageObject)
    )
    info = document.info
    descriptive = {
        "title": info.title,
        "creator": info.author,
        "created": info.creation_date.isoformat() if info.creation_date else "",
    }
    return FileFacts(
        format="ofd",
        pages=len(document.pages),
        page_problems=document.warnings,
        fonts_not_embedded=tuple(sorted(fonts)),
        images=images,
        external_references=tuple(external),
        active_content=tuple(active),
        executables=tuple(executables),
        long_term_format="OFD",
        long_term_problems=tuple(long_term),
        descriptive={key: value for key, value in descriptive.items() if value},
        licence_metadata={
            _CHINESE_TO_KEY[name]: value.strip()
            for name, value in info.custom_datas
            if name in _CHINESE_TO_KEY and value.strip()
        },
    )


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _scan(
    path: str,
    root: etree._Element,
    active: list[str],
    external: list[str],
    long_term: list[str],
) -> None:
    for element in root.iter():
        name = _local(element)
        if name == "Action":
            kinds = {_local(c) for c in element} & (_ACTIONS | {"Goto"})
            event = element.get("Event", "")
            for kind in sorted(kinds):
                if event in _ON_OPEN and kind in _ACTIONS:
                    active.append(f"{path}：{_ON_OPEN[event]}执行 {kind} 动作")
                elif kind in ("Sound", "Movie"):
                    active.append(f"{path}：{kind} 动作播放媒体")
        elif "script" in name.lower():
            active.append(f"{path}：脚本元素 {name}")
        elif name == "MultiMedia" and element.get("Type", "Image") in ("Audio", "Video"):
            long_term.append(f"{path}：{element.get('Type')} 多媒体资源不属于 OFD-A 允许的内容")
        locations = [element.text or ""] if name in _LOCATIONS else []
        locations += [v for k, v in element.attrib.items() if k in _LOCATIONS]
        for location in locations:
            if _OUTSIDE.match(location.strip()):
                external.append(f"{path}：{name} 引用包外资源 {location.strip()}")
