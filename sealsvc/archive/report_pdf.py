"""The human-readable verification report of a package (``report/verification.pdf``), in Chinese.

An archivist opening a package decades later may have no tool that reads the JSON: this
page says, in the words of the citizens' verification page, what was checked when the
package was made — the document, each seal or time-stamp and its verdict, the evidence
and the audit trail packaged.  Drawn with reportlab in the CJK face the seals use.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from pki.clock import CHINA_TIME
from sealsvc.sealimage import load_font

__all__ = ["report_pdf"]

_INDICATIONS = {"TOTAL_PASSED": "有效", "INDETERMINATE": "无法确定", "TOTAL_FAILED": "无效"}
_KINDS = {"signature": "电子印章", "document_timestamp": "文档时间戳"}


def _beijing(iso: str | None) -> str | None:
    """An ISO 8601 report time as people here read it: Beijing time, to the second."""
    if not iso:
        return None
    return datetime.fromisoformat(iso).astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S")


def _signer(signature: Mapping[str, Any]) -> str:
    signer = signature.get("signer") or {}
    return (
        signer.get("common_name") or signer.get("organization") or signature.get("field_name") or ""
    )


def report_pdf(summary: Mapping[str, Any], verification: Mapping[str, Any]) -> bytes:
    """A4 pages: ``summary`` (record, file, counts) and ``verification`` (the report JSON)."""
    font = load_font().name
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=12)
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=26, alignment=1)
    heading = ParagraphStyle("heading", parent=body, fontSize=12.5, leading=20, spaceBefore=8)

    def p(text: object, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(text if text is not None else "—")), style)

    def table(rows: list[list[Paragraph]], widths: list[float]) -> Table:
        grid = Table(rows, colWidths=widths, repeatRows=0)
        grid.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f1f1f1")),
                ]
            )
        )
        return grid

    accepted = verification.get("accepted", verification.get("verdict") == "TOTAL_PASSED")
    story: list[Flowable] = [
        p("电子档案验证报告", title),
        p("（归档信息包随附，供离线查阅）", small),
        Spacer(1, 6 * mm),
        table(
            [[p(label), p(value)] for label, value in summary.items()]
            + [
                [p("验证时间"), p(f"{_beijing(verification.get('validation_time'))}（北京时间）")],
                [p("验证结论"), p("通过" if accepted else "未通过")],
                [p("说明"), p(verification.get("conclusion") or verification.get("sentence"))],
            ],
            [38 * mm, 132 * mm],
        ),
        p("印章与时间戳", heading),
    ]
    rows = [[p("类型"), p("签章者"), p("结果"), p("可证明的签章时间（北京时间）"), p("说明")]]
    for signature in verification.get("signatures", []):
        rows.append(
            [
                p(_KINDS.get(signature.get("kind"), signature.get("kind")), small),
                p(_signer(signature), small),
                p(
                    _INDICATIONS.get(signature.get("indication"), signature.get("indication")),
                    small,
                ),
                p(_beijing(signature.get("best_signature_time")), small),
                p(signature.get("sentence"), small),
            ]
        )
    grid = table(rows, [20 * mm, 42 * mm, 18 * mm, 32 * mm, 58 * mm])
    grid.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f1f1f1"))]))
    story += [
        grid,
        p("说明", heading),
        p(
            "本归档信息包内含文件原件、本报告（JSON 与 PDF）、全部验证证据（证书链、证书撤销列表、"
            "OCSP 响应、时间戳）、该记录的审计日志片段及其哈希链锚点、元数据与清单。清单"
            "（manifest.xml）列出每个文件的 SM3 与 SHA-256 摘要，并由本服务的归档章"
            "（GB/T 38540 电子签章，含时间戳）封存。可用 “sealctl archive import-check” "
            "在不连接本服务的情况下重新验证。",
            small,
        ),
    ]
    out = io.BytesIO()
    SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title="电子档案验证报告",
        author="sealsvc",
    ).build(story)
    return out.getvalue()
