"""Electronic licences (电子证照): templates, rendering, QR verification, the issue pipeline.

``templates`` loads declarative layouts and validates data; ``render`` paints a PDF/A-2b
page with reportlab, ``render_ofd`` the same layout as OFD; ``qr`` makes the verification
code; ``pipeline`` issues, re-issues, annuls (吊销 or 注销) and serves sealed licences;
``identify`` finds the licence an uploaded file is; ``wording`` says in Chinese whether it
still counts.

Names load from their modules when first used (:mod:`sealsvc.lazyimport`): a caller of
``wording`` or ``templates`` does not load the renderers and the pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sealsvc.lazyimport import lazy_exports

if TYPE_CHECKING:
    from sealsvc.licences.pipeline import (
        LicenceFileProblem,
        LicenceRecord,
        WrongFormat,
        annul_licence,
        get_licence,
        get_licence_file,
        get_licence_ofd,
        get_licence_pdf,
        issue_licence,
        list_licences,
        reconcile_licence_files,
        reissue_licence,
    )
    from sealsvc.licences.qr import QrCode, data_hash, verification_url
    from sealsvc.licences.render import LicencePage, render_licence
    from sealsvc.licences.status import (
        NUMBER_PATTERN,
        LicenceStatusReport,
        check_number,
        licence_status,
    )
    from sealsvc.licences.templates import Template, list_templates, load_template

__getattr__ = lazy_exports(
    __name__,
    {
        "status": ["NUMBER_PATTERN", "LicenceStatusReport", "check_number", "licence_status"],
        "pipeline": [
            "LicenceFileProblem",
            "LicenceRecord",
            "WrongFormat",
            "annul_licence",
            "get_licence",
            "get_licence_file",
            "get_licence_ofd",
            "get_licence_pdf",
            "issue_licence",
            "list_licences",
            "reconcile_licence_files",
            "reissue_licence",
        ],
        "qr": ["QrCode", "data_hash", "verification_url"],
        "render": ["LicencePage", "render_licence"],
        "templates": ["Template", "list_templates", "load_template"],
    },
)

__all__ = [
    "NUMBER_PATTERN",
    "LicenceFileProblem",
    "LicencePage",
    "LicenceRecord",
    "LicenceStatusReport",
    "QrCode",
    "Template",
    "WrongFormat",
    "annul_licence",
    "check_number",
    "data_hash",
    "get_licence",
    "get_licence_file",
    "get_licence_ofd",
    "get_licence_pdf",
    "issue_licence",
    "licence_status",
    "list_licences",
    "list_templates",
    "load_template",
    "reconcile_licence_files",
    "reissue_licence",
    "render_licence",
    "verification_url",
]
