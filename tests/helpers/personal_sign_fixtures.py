"""Personal signing for tests: three officials signing off one PDF, and a drawn signature.

The personal signing API, OFD and interop tests use the same people (ID numbers with a
valid GB 11643 check character), the same sign-off chain (经办人 → 审核人 → 签发人, then
the department seal) and the same signature-pad picture."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from helpers.idp_fixtures import TestProvider
from helpers.pdf_fixtures import chinese_pdf
from sealsvc import persons, seals
from sealsvc.context import ServiceContext
from sealsvc.identity import PersonIdentity, verify_id_token
from sealsvc.pades import Level, Placement, SealOptions
from sealsvc.personal_signing import sign_as_person
from sealsvc.sealing import Sealer

ACTOR = "test:person-sign"


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(body: str) -> str:
    """``body`` (17 digits) with its GB 11643 check character: a made-up, well-formed number."""
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


# Three officials of one approval, each with their own account and ID number.
CHAIN = (
    ("u-2001", "李小明", id_number("41010219850101201"), "经办人"),
    ("u-2002", "王芳", id_number("41010319790505302"), "审核人"),
    ("u-2003", "欧阳建国", id_number("41010419700909403"), "签发人"),
)


def signature_png() -> bytes:
    """A drawn signature: dark strokes on a white pad, as the signature pad sends it."""
    image = Image.new("RGB", (600, 240), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(40, 180), (120, 60), (200, 170), (300, 50), (420, 190), (560, 80)], "black", 9)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _person(context: ServiceContext, provider: TestProvider, **claims: str) -> PersonIdentity:
    return verify_id_token(context, provider.token(**claims), actor=ACTOR)


def _sign(
    context: ServiceContext, pdf: bytes, person: PersonIdentity, role: str, **options: object
):
    arguments: dict = {
        "placement": Placement(page=1, x_mm=60, y_mm=60, size_mm=36),
        "level": Level.B_T,
        "role": role,
        "signature_image_png": signature_png(),
        "actor": ACTOR,
    }
    arguments.update(options)
    return sign_as_person(context, pdf, person, **arguments)


def sign_off_chain(context: ServiceContext, provider: TestProvider) -> bytes:
    """经办人 (event certificate) → 审核人 → 签发人 (officials), then the 行政审批专用章 (RSA)."""
    pdf = chinese_pdf()
    for number, (subject, name, number_, role) in enumerate(CHAIN):
        if role != "经办人":  # the reviewers are enrolled officials; the clerk signs per event
            persons.enroll(
                context, provider="ywtb", subject=subject, name=name, id_number=number_,
                department="郑州市市场监督管理局", role=role, hierarchy="rsa", actor=ACTOR,
            )  # fmt: skip
        person = _person(context, provider, sub=subject, name=name, id_number=number_)
        placement = Placement(page=1, x_mm=30 + 50 * number, y_mm=60, size_mm=36)
        pdf = _sign(context, pdf, person, role, placement=placement).document
    seal = seals.issue(context, department="ZZ-FTZ", kind="行政审批专用章", actor=ACTOR)
    return Sealer(context).seal(
        pdf, seal.code, SealOptions(level=Level.B_T, placement=Placement(x_mm=150, y_mm=140)),
        actor=ACTOR,
    ).pdf  # fmt: skip
