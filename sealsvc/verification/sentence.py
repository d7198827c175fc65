"""Plain-Chinese sentences for citizens, one per indication, times in Beijing time.

A citizen holding a licence wants one sentence: who sealed it, when, whether it was
changed, whether the seal is valid — and if not, what that means for them.  Times are shown
in China Standard Time (UTC+8, no daylight saving), minutes precision.
"""

from __future__ import annotations

from datetime import datetime

from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic

from pki.clock import CHINA_TIME
from sealsvc.verification.report import SignatureReport

__all__ = [
    "beijing_time",
    "document_sentence",
    "proven_by_later_timestamp",
    "signature_sentence",
]


_FAILURE_SENTENCES: dict[AdESSubIndic, str] = {
    AdESFailure.HASH_FAILURE: "{who}加盖后，文件内容被篡改，印章无效。",
    AdESFailure.SIG_CRYPTO_FAILURE: "{who}的电子签名校验失败，印章无效。",
    AdESFailure.REVOKED: "{who}的印章证书在盖章时已被吊销，印章无效。",
    AdESFailure.FORMAT_FAILURE: "文件中的电子印章数据已损坏或格式无法识别，无法验证。",
    AdESFailure.NOT_YET_VALID: "{who}盖章时其印章证书尚未生效，印章无效。",
    AdESIndeterminate.REVOKED_NO_POE: (
        "{who}的印章证书已被吊销，且没有可信时间证明盖章发生在吊销之前，无法确认印章有效。"
    ),
    AdESIndeterminate.REVOKED_CA_NO_POE: (
        "{who}的签发机构证书已被吊销，且没有可信时间证明盖章发生在吊销之前，无法确认印章有效。"
    ),
    AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND: (
        "{who}的印章证书不是由受信任的电子印章机构签发的，无法确认印章有效。"
    ),
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE: (
        "{who}的印章证书已过期，且没有可信时间戳证明盖章时证书有效，无法确认印章有效。"
    ),
    AdESIndeterminate.TRY_LATER: "暂时无法确认{who}的印章证书状态，请稍后再验证。",
    AdESIndeterminate.SIG_CONSTRAINTS_FAILURE: (
        "{who}加盖后，文件发生了该印章不允许的修改，无法确认印章有效。"
    ),
    AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE: (
        "{who}的印章证书不符合电子印章的使用要求，无法确认印章有效。"
    ),
    AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE: (
        "{who}的印章证书链校验失败，无法确认印章有效。"
    ),
    AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE: (
        "{who}使用了本系统不支持或已不再安全的密码算法，无法确认印章有效。"
    ),
    AdESIndeterminate.GENERIC: (
        "{who}加盖后文件有后续修改，系统无法判断这些修改是否改变了文件内容，无法确认印章有效。"
    ),
}


_TIMESTAMP_SENTENCES: dict[AdESSubIndic, str] = {
    AdESFailure.HASH_FAILURE: "可信时间戳{who}加盖后，文件内容被篡改，该时间戳无效。",
    AdESFailure.SIG_CRYPTO_FAILURE: "可信时间戳{who}的签名校验失败，该时间戳无效。",
    AdESFailure.FORMAT_FAILURE: "文件中的可信时间戳数据已损坏或格式无法识别，无法验证。",
    AdESFailure.REVOKED: "可信时间戳{who}的时间戳证书已被吊销，该时间戳无效。",
    AdESIndeterminate.REVOKED_NO_POE: (
        "可信时间戳{who}的时间戳证书已被吊销，且没有更晚的时间证明，无法确认该时间戳有效。"
    ),
    AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND: (
        "可信时间戳{who}不是由受信任的时间戳机构签发的，无法确认该时间戳有效。"
    ),
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE: (
        "可信时间戳{who}的时间戳证书已过期，且没有更晚的时间证明，无法确认该时间戳有效。"
    ),
    AdESIndeterminate.TRY_LATER: "暂时无法确认可信时间戳{who}的证书状态，请稍后再验证。",
    AdESIndeterminate.SIG_CONSTRAINTS_FAILURE: (
        "可信时间戳{who}加盖后，文件发生了不允许的修改，无法确认该时间戳有效。"
    ),
}
"""A document time-stamp is not a seal: its failures are worded for a time-stamp."""


def beijing_time(moment: datetime) -> str:
    """``2026-11-23 10:00`` in Beijing time."""
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")


_PERSON_WORDS = (
    ("印章证书", "签名证书"),
    ("电子印章机构", "电子签名机构"),
    ("电子印章", "电子签名"),
    ("加盖后", "签名后"),
    ("盖章", "签名"),
    ("印章", "签名"),
)
"""A failure sentence written for a seal, reworded for a person's signature (电子签名)."""

_CERTIFICATE_KINDS = {"event": "事件型证书", "official": "个人长期证书"}


def _person_label(report: SignatureReport) -> str:
    """``张*三（审核人）``: the masked name and the role, as a public answer names a signer."""
    person = report.person
    assert person is not None  # noqa: S101  called for personal signatures only
    return f"{person.name}（{person.role}）" if person.role else person.name


def _as_person(text: str) -> str:
    for seal_word, person_word in _PERSON_WORDS:
        text = text.replace(seal_word, person_word)
    return text


def _who(report: SignatureReport) -> str:
    if report.person is not None:
        return f"“{_person_label(report)}”"
    signer = report.signer
    if signer is None:
        return "该印章"
    name = signer.common_name or signer.organization or signer.subject
    return f"“{name}”"


def signature_sentence(report: SignatureReport, on_hold: bool = False) -> str:
    """The sentence for one signature (``on_hold`` picks the suspended-seal wording)."""
    sub = report.sub_indication
    if sub is None:
        return _passed(report)
    if report.kind == "document_timestamp":
        template = _TIMESTAMP_SENTENCES.get(sub, "可信时间戳{who}无法通过验证（{code}）。")
        return template.format(who=_who(report), code=sub.standard_name)
    if sub is AdESIndeterminate.TRY_LATER and on_hold:
        return f"{_who(report)}的印章证书目前处于暂停使用（挂起）状态，请待其恢复或注销后再验证。"
    template = _FAILURE_SENTENCES.get(sub, "{who}无法通过验证（{code}）。")
    if report.person is not None:
        template = _as_person(template)
    return template.format(who=_who(report), code=sub.standard_name)


def proven_by_later_timestamp(report: SignatureReport) -> bool:
    """The signature's proven time comes from a later document time-stamp, not its own.

    Such a time-stamp proves the seal existed by then, not when it was applied: the
    sentence must say "不晚于" (no later than), never "于" (at).
    """
    if report.kind != "signature" or report.best_signature_time is None:
        return False
    own = report.timestamp
    return own is None or not own.valid or own.time != report.best_signature_time


def _passed(report: SignatureReport) -> str:
    when = report.best_signature_time or report.claimed_signing_time
    at = ""
    if when is not None:  # "no later than" when only a later time-stamp proves the time
        at = f"{'不晚于' if proven_by_later_timestamp(report) else '于'} {beijing_time(when)} "
    changed = report.modifications is not None and report.modifications.level not in (
        "NONE",
        "LTA_UPDATES",
    )
    after = "盖章后仅追加了允许的后续签章或填写内容" if changed else "盖章后未被修改"
    if report.kind == "document_timestamp":
        return f"本文件{at}加盖了可信时间戳，此后未被修改。"
    if report.person is not None:
        after = "签名后仅追加了允许的后续签章或填写内容" if changed else "签名后文件未被修改"
        kind = _CERTIFICATE_KINDS[report.person.certificate]
        return f"本文件由{_person_label(report)}{at}签名，{after}，签名有效（{kind}）。"
    signer = report.signer
    who = (signer.organization or signer.common_name) if signer else "签章人"
    return f"本文件由{who}{at}加盖电子印章，{after}，印章有效。"


def document_sentence(
    signatures: tuple[SignatureReport, ...], deciding: SignatureReport | None
) -> str:
    """The sentence for the whole document."""
    signed = [s for s in signatures if s.kind == "signature"]
    seals = [s for s in signed if s.person is None]
    people = [s for s in signed if s.person is not None]
    if not signatures:
        return "本文件未加盖电子印章。"
    if deciding is not None and not deciding.passed:
        return deciding.sentence
    if len(signed) == 1:
        return signed[0].sentence
    if people:
        who = "、".join(_person_label(s) for s in people)
        text = f"本文件共有 {len(people)} 位签名人依次签名（{who}）"
        if seals:
            names = "、".join(
                (s.signer.common_name or s.signer.organization or "") for s in seals if s.signer
            )
            text += f"，并加盖 {len(seals)} 枚电子印章（{names}）"
        return text + "，均未被篡改，" + ("签名和印章均有效。" if seals else "签名均有效。")
    names = "、".join(
        (s.signer.common_name or s.signer.organization or "") for s in seals if s.signer
    )
    return f"本文件共加盖 {len(seals)} 枚电子印章（{names}），均未被篡改，印章均有效。"
