"""完整性 (DA/T 70-2018 §6.2): nothing of the record is missing, nothing added unnoticed.

* ``required_metadata`` — a licence carries every GB/T 36903 element (the holder's code and
  its type where the registry has them); any other document DA/T 46's descriptive core:
  title, creator, creation date.
* ``components`` — pages, their content and every font and image they use are in the file
  (no font without its program), and the seals are there.
* ``after_last_seal`` — nothing was changed after a seal that its rules do not allow (the
  verifier's modification analysis: PDF incremental updates, OFD files no signature covers).
* ``serial_continuity`` — added by the batch runner (:mod:`.serials`).
"""

from __future__ import annotations

from sealsvc.archival_check.checks import failed, listed, passed, verdict
from sealsvc.archival_check.facts import GBT36903_REQUIRED
from sealsvc.archival_check.record import Record
from sealsvc.archival_check.report import Check, Property, PropertyReport

__all__ = ["integrity"]

_DESCRIPTIVE = {"title": "题名", "creator": "责任者", "created": "形成日期"}
"""DA/T 46-2009's core descriptive elements a document states about itself."""
_HOLDER_CODE = {"holder_code": "持证主体代码", "holder_code_type": "持证主体代码类型"}


def integrity(record: Record) -> PropertyReport:
    return PropertyReport(
        Property.INTEGRITY, (_metadata(record), _components(record), _after_last_seal(record))
    )


def is_licence(record: Record) -> bool:
    """Registered, or carrying licence metadata: judged by GB/T 36903, not DA/T 46."""
    return record.licence is not None or bool(record.facts.licence_metadata)


def _metadata(record: Record) -> Check:
    name = "必备元数据齐全"
    facts = record.facts
    if not facts.readable:
        return failed("required_metadata", name, facts.problem or "文件无法读取")
    if is_licence(record):
        required = dict(GBT36903_REQUIRED)
        registered = record.licence.metadata if record.licence else facts.licence_metadata
        required |= {key: label for key, label in _HOLDER_CODE.items() if key in registered}
        missing = [label for key, label in required.items() if not facts.licence_metadata.get(key)]
        return verdict(
            "required_metadata",
            name,
            missing,
            f"GB/T 36903 的 {len(required)} 项证照元数据齐全",
            "缺少 GB/T 36903 证照元数据",
        )
    missing = [label for key, label in _DESCRIPTIVE.items() if not facts.descriptive.get(key)]
    return verdict(
        "required_metadata",
        name,
        missing,
        "题名、责任者、形成日期齐全（DA/T 46）",
        "缺少 DA/T 46 著录元数据",
    )


def _components(record: Record) -> Check:
    name = "组成部分齐全"
    facts = record.facts
    if not facts.readable:
        return failed("components", name, facts.problem or "文件无法读取")
    gaps = list(facts.page_problems)
    if facts.pages == 0:
        gaps.append("没有页面")
    gaps += [f"字体 {font} 未嵌入" for font in facts.fonts_not_embedded]
    report = record.verification.report if record.verification else None
    seals = [s for s in report.signatures if s.kind == "signature"] if report else []
    if not seals:
        gaps.append("没有电子印章")
    return verdict(
        "components",
        name,
        gaps,
        f"{facts.pages} 页内容可读，字体均已嵌入，图像 {facts.images} 个，电子印章 {len(seals)} 个",
        "组成部分缺失",
    )


def _after_last_seal(record: Record) -> Check:
    name = "盖章后无不允许的修改"
    if record.verification is None:
        return failed("after_last_seal", name, "文件无法验证")
    changes = []
    for signature in record.verification.report.signatures:
        m = signature.modifications
        if m is not None and not m.allowed:
            changes.append(
                f"{signature.field_name} 之后：{m.level}{'，' + m.detail if m.detail else ''}"
            )
    if changes:
        return failed("after_last_seal", name, f"盖章后有不允许的修改：{listed(changes)}")
    return passed("after_last_seal", name, "盖章后仅有允许的更新（时间戳、验证数据、后续印章）")
