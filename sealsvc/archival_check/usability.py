"""可用性 (DA/T 70-2018 §6.3): the record can be read, now and in decades.

* ``long_term_format`` — a format kept for the long term, its claim checked against the
  file: PDF/A (GB/T 23286; parts 1-3, level B or higher) with an output intent and XMP
  agreeing with the Info dictionary; OFD (GB/T 33190) within what GB/T 42133 (OFD-A)
  excludes and we can see (audio, video).
* ``fonts_embedded`` — every font's program is in the file: text renders the same
  anywhere.
* ``not_encrypted`` — no encryption: a password or a security handler lost in twenty years
  makes the record unreadable.
* ``no_external_references`` — nothing the record shows lives outside it.
* ``opens_and_renders`` — the file opens and every page's content and resources read;
  with ``render`` page 1 is also painted (:mod:`.rendering`).
"""

from __future__ import annotations

from sealsvc.archival_check.checks import failed, listed, passed, unreadable, verdict
from sealsvc.archival_check.record import Record
from sealsvc.archival_check.report import Check, Property, PropertyReport

__all__ = ["usability"]

_CHECKS = {
    "long_term_format": "长期保存格式",
    "fonts_embedded": "字体已嵌入",
    "not_encrypted": "未加密",
    "no_external_references": "无外部引用",
    "opens_and_renders": "可打开、可显示",
}


def usability(record: Record) -> PropertyReport:
    facts = record.facts
    if not facts.readable:
        return PropertyReport(Property.USABILITY, unreadable(facts, _CHECKS))
    checks = (
        _long_term(record),
        verdict(
            "fonts_embedded",
            "字体已嵌入",
            facts.fonts_not_embedded,
            "使用的字体均已嵌入",
            "字体未嵌入",
        ),
        _not_encrypted(record),
        verdict(
            "no_external_references",
            "无外部引用",
            facts.external_references,
            "内容不依赖文件外的资源",
            "依赖文件外的资源",
        ),
        _renders(record),
    )
    return PropertyReport(Property.USABILITY, checks)


def _long_term(record: Record) -> Check:
    name = "长期保存格式"
    facts = record.facts
    if not facts.readable:
        return failed("long_term_format", name, facts.problem or "文件无法读取")
    if facts.long_term_format is None:
        return failed("long_term_format", name, "PDF 未声明 PDF/A（GB/T 23286），不是长期保存格式")
    if facts.long_term_problems:
        return failed(
            "long_term_format",
            name,
            f"声明为 {facts.long_term_format}，但文件不符：{listed(facts.long_term_problems)}",
        )
    notes = f"（注：{listed(facts.notes)}）" if facts.notes else ""
    return passed("long_term_format", name, f"{facts.long_term_format}，声明与文件相符{notes}")


def _not_encrypted(record: Record) -> Check:
    if record.facts.encrypted:
        return failed("not_encrypted", "未加密", "文件已加密：密码或加密方式失传后将无法读取")
    return passed("not_encrypted", "未加密", "文件未加密")


def _renders(record: Record) -> Check:
    name = "可打开、可显示"
    facts = record.facts
    if not facts.readable:
        return failed("opens_and_renders", name, facts.problem or "文件无法打开")
    problems = list(facts.page_problems)
    if facts.pages == 0:
        problems.append("没有页面")
    if record.render_problem:
        problems.append(record.render_problem)
    how = "第 1 页已渲染" if record.rendered else "各页内容与资源均可解析（未渲染）"
    return verdict("opens_and_renders", name, problems, f"{facts.pages} 页，{how}", "无法正常显示")
