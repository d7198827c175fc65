"""安全性 (DA/T 70-2018 §6.4): the record carries nothing that acts, and can be proven unchanged.

* ``no_active_content`` — no JavaScript, no Launch, no action run when the document or a
  page opens (URI, form submission, media), no OFD scripts or opening actions.
* ``no_executables`` — no embedded file or package member is a program.
* ``not_encrypted`` — the archive must be able to read (and re-check) what it keeps.
* ``checksums`` — SM3 and SHA-256 of the file, recorded in the report (and its JSON) so a
  later check proves the bytes are the ones checked today.

A file that cannot be opened fails every check but the checksums: what cannot be read
cannot be shown harmless.
"""

from __future__ import annotations

from sealsvc.archival_check.checks import failed, passed, unreadable, verdict
from sealsvc.archival_check.record import Record
from sealsvc.archival_check.report import Check, Property, PropertyReport

__all__ = ["security"]

_CHECKS = {
    "no_active_content": "无活动内容",
    "no_executables": "无可执行程序",
    "not_encrypted": "未加密",
}


def security(record: Record) -> PropertyReport:
    facts = record.facts
    checksums = passed("checksums", "校验值已记录", f"SM3 {record.sm3}，SHA-256 {record.sha256}")
    if not facts.readable:
        return PropertyReport(Property.SECURITY, (*unreadable(facts, _CHECKS), checksums))
    checks: tuple[Check, ...] = (
        verdict(
            "no_active_content",
            "无活动内容",
            facts.active_content,
            "没有脚本、启动程序或打开时执行的动作",
            "含活动内容",
        ),
        verdict(
            "no_executables",
            "无可执行程序",
            facts.executables,
            "没有嵌入可执行程序",
            "嵌入了可执行程序",
        ),
        failed("not_encrypted", "未加密", "文件已加密：归档须能不凭密码直接读取、复核其内容")
        if facts.encrypted
        else passed("not_encrypted", "未加密", "文件未加密"),
        checksums,
    )
    return PropertyReport(Property.SECURITY, checks)
