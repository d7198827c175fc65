"""真实性 (DA/T 70-2018 §6.1): the record is what it claims to be, from whom it claims.

* ``seals_verify`` — every seal and signature verifies (the verification engine's
  TOTAL_PASSED: integrity of the signed bytes, chain to our roots, revocation status at
  the proven time, the registry's seal status).
* ``registry_match`` — a licence is the registered file of a licence that still counts:
  byte for byte (SHA-256) one of its registered versions, neither annulled nor superseded.
* ``metadata_match`` — the GB/T 36903 metadata in the file agrees with the registry's
  record as issued (number, holder, issuer, identifier, dates …).
* ``evidence_coverage`` — every seal carries its proof of time (a signature time-stamp)
  and the revocation evidence of its certificate: embedded in a PDF (DSS), so the record
  verifies offline; an OFD seal's ``SES_Signature`` has no place for revocation data
  (GB/T 38540), so the registry's own answer is what covers it.
"""

from __future__ import annotations

from sealsvc.archival_check.checks import failed, not_applicable, passed, verdict
from sealsvc.archival_check.record import Record
from sealsvc.archival_check.report import Check, Property, PropertyReport
from sealsvc.verification.report import SignatureReport

__all__ = ["authenticity"]


def authenticity(record: Record) -> PropertyReport:
    return PropertyReport(
        Property.AUTHENTICITY,
        (_seals(record), _registry(record), _metadata(record), _evidence(record)),
    )


def _seals(record: Record) -> Check:
    name = "电子印章/签名有效"
    if record.verification is None:
        return failed("seals_verify", name, record.facts.problem or "文件无法验证")
    report = record.verification.report
    if report.passed:
        return passed("seals_verify", name, f"全部 {len(report.signatures)} 个签名验证通过")
    if not report.signatures:
        return failed("seals_verify", name, f"文件没有可验证的电子印章：{report.sentence}")
    return failed("seals_verify", name, f"{report.verdict.value}：{report.sentence}")


def _registry(record: Record) -> Check:
    name = "与登记信息一致"
    licence = record.licence
    if licence is None:
        if record.facts.licence_metadata.get("number"):
            number = record.facts.licence_metadata["number"]
            return failed("registry_match", name, f"文件自称证照 {number}，但登记簿中没有")
        return not_applicable("registry_match", name, "不是本服务登记的证照")
    if not licence.document_matches:
        return failed(
            "registry_match",
            name,
            f"证照 {licence.number} 已登记，但文件与登记的任何版本都不一致（SHA-256 不同）",
        )
    if licence.sentence is not None:
        return failed("registry_match", name, licence.sentence)
    return passed(
        "registry_match", name, f"证照 {licence.number} 第 {licence.version} 版，登记状态有效"
    )


def _metadata(record: Record) -> Check:
    name = "元数据与登记一致"
    licence = record.licence
    if licence is None or not licence.metadata:
        return not_applicable("metadata_match", name, "没有可比对的登记元数据")
    embedded = record.facts.licence_metadata
    differences = [
        f"{key}：文件为“{embedded.get(key, '（缺）')}”，登记为“{value}”"
        for key, value in licence.metadata.items()
        if embedded.get(key) != value
    ]
    return verdict(
        "metadata_match",
        name,
        differences,
        f"文件中的 {len(licence.metadata)} 项 GB/T 36903 元数据与登记一致",
        "文件元数据与登记不一致",
    )


def _embedded_for(record: Record, seal: SignatureReport) -> bool:
    """The file's DSS holds an OCSP answer for the seal's certificate or its issuer's CRL
    (which of them the verifier used is its choice; the archive needs one in the file)."""
    signer = seal.signer
    evidence = record.facts.revocation_evidence
    return signer is not None and bool(
        {f"ocsp:{signer.serial_hex}", f"crl:{signer.issuer}"} & evidence
    )


def _evidence(record: Record) -> Check:
    name = "时间戳与撤销信息覆盖"
    if record.verification is None:
        return failed("evidence_coverage", name, "文件无法验证")
    seals = [s for s in record.verification.report.signatures if s.kind == "signature"]
    if not seals:
        return failed("evidence_coverage", name, "没有电子印章，无从覆盖")
    gaps = []
    for seal in seals:
        if seal.timestamp is None or not seal.timestamp.valid:
            gaps.append(f"{seal.field_name} 没有有效的签名时间戳")
        revocation = seal.revocation
        if revocation is None or revocation.status != "good":
            gaps.append(f"{seal.field_name} 没有证明证书未撤销的信息")
        elif record.facts.format == "pdf" and not _embedded_for(record, seal):
            gaps.append(f"{seal.field_name} 的撤销信息未嵌入文件（DSS），离线无法验证")
    where = "嵌入文件" if record.facts.format == "pdf" else "由登记簿应答"
    return verdict(
        "evidence_coverage",
        name,
        gaps,
        f"{len(seals)} 个印章均有签名时间戳，撤销信息{where}",
        "证据不完整",
    )
