"""Fuzzing with mutated real inputs, and hostile documents that must hit a limit.

Mutations (:func:`mutated`, a hypothesis strategy): 1-4 of byte flips, overwrites with
boundary bytes, insertions (random or syntax tokens such as ``0 R`` or a DER length
``82 ff ff``), deletions, truncations and splices (a chunk of the input copied elsewhere),
placed half of the time near the structure that matters (``xref``, ``/ByteRange``,
``/Contents``, ``stream`` …).  They are applied to

* sealed PDFs, RSA and SM2, B-B and B-LTA → ``verify`` and ``POST /v1/verify``;
* the CMS SignedData of a sealed PDF, re-embedded in its ``/Contents`` → ``verify``, and
  alone → :func:`pki.cms.verify_signed_data`;
* TimeStampReqs (``openssl ts -query`` and asn1crypto-built, with nonce, policy and
  extensions) → ``POST /pki/{h}/tsa``; OCSPRequests (``openssl ocsp -reqout``) →
  ``POST /pki/{h}/ocsp`` and ``GET /pki/{h}/ocsp/{base64}``.

Every call runs under :func:`bounded`: it must answer within :data:`TIME_LIMIT` seconds,
``verify`` must return a report, HTTP must not answer 5xx.  The number of inputs tried is
printed at the end of the module; ``SEALSVC_FUZZ_SCALE=N`` multiplies the example counts
(CI runs 1: about 1,200 inputs in under a minute on two cores).

Hostile documents (:mod:`hostile_pdfs`: decompression bombs in page content, an image, an
object stream and the DSS; arrays and dictionaries 100k deep; 100k-long reference chains,
reference, page-tree and ``/Prev`` loops) must be answered by ``verify``, sealing and the
API in bounded time and memory with a clear refusal or report (memory in a subprocess).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import pytest
from asn1crypto import cms, ocsp, tsp, x509
from helpers.fuzzing import fuzz, hot_spots, mutated
from helpers.hostile_pdfs import (
    HOSTILE,
    content_bomb,
    dss_bomb,
    nested,
    page_tree_loop,
    reference_loop,
)
from helpers.hostile_pdfs import xref_prev_loop as prev_loop
from helpers.verify_corpus import TestServices, services_for
from hypothesis import given
from hypothesis import strategies as st

from pki.cms import verify_signed_data
from pki.errors import PkiError
from pki.ocsp import OcspError, parse_response
from pki.tsa import TimeStampResp
from sealsvc.errors import InvalidInput
from sealsvc.pades import Level, Placement
from sealsvc.verification import DocumentVerdict, ValidationReport, verify

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world

TIME_LIMIT = 20.0
"""Seconds any single input may take (normal answers take 1-300 ms; generous for CI)."""
PEAK_RSS_LIMIT_MIB = 700
"""Peak RSS of a process that verifies and seals every hostile document (~200 MiB seen)."""


"""Multiplies every example count: ``SEALSVC_FUZZ_SCALE=20`` for a long run off CI."""


T = TypeVar("T")
INPUTS: Counter[str] = Counter()
_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fuzz")


def bounded(label: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)`` in a worker thread; fail unless it answers in time.

    A call that hangs keeps its (daemon-like) worker busy, but the test fails at once with
    the input's label instead of hanging the suite.
    """
    INPUTS[label] += 1
    started = time.monotonic()
    future = _EXECUTOR.submit(call, *args, **kwargs)
    seconds = TIME_LIMIT
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        pytest.fail(f"{label}: no answer after {seconds} s")
    finally:
        if time.monotonic() - started > seconds:
            pytest.fail(f"{label}: answered after {time.monotonic() - started:.1f} s")


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request: pytest.FixtureRequest):
    """Print the number of inputs tried, past pytest's output capture."""
    yield
    kinds = Counter[str]()
    for label, count in INPUTS.items():
        kinds[label.split("(")[0].strip()] += count  # hostile documents: one line per target
    summary = ", ".join(f"{label} {count}" for label, count in sorted(kinds.items()))
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\nfuzzing: {sum(INPUTS.values())} inputs tried ({summary})")


# --- the mutation strategy ----------------------------------------------------------------------


PDF_MARKERS = (b"obj", b"xref", b"trailer", b"startxref", b"stream", b"/ByteRange",
               b"/Contents", b"/DSS", b"/Prev", b"/Length", b"/Type", b"/Filter")  # fmt: skip


# --- inputs -------------------------------------------------------------------------------------

CASES = [(family, level) for family in ("rsa", "sm2") for level in (Level.B_B, Level.B_LTA)]


@pytest.fixture(scope="module")
def sealed() -> dict[tuple[str, Level], bytes]:
    """The 1-page licence sealed with the test PKI, per (family, level)."""
    return {(family, level): services_for(family).seal(level=level) for family, level in CASES}


def _signature_hole(pdf: bytes) -> tuple[int, int]:
    """Start and end of the hex digits of the (first) signature's ``/Contents``."""
    start = pdf.index(b"/Contents <") + len(b"/Contents <")
    return start, pdf.index(b">", start)


def _with_cms(pdf: bytes, der: bytes) -> bytes:
    """``pdf`` with ``der`` in the signature's ``/Contents`` hole (cut or zero-padded)."""
    start, end = _signature_hole(pdf)
    digits = der.hex().encode()[: end - start]
    return pdf[:start] + digits.ljust(end - start, b"0") + pdf[end:]


def _cms_of(pdf: bytes) -> tuple[bytes, bytes]:
    """The signature's CMS DER (without the zero padding) and the bytes it signs."""
    start, end = _signature_hole(pdf)
    hole = bytes.fromhex(pdf[start:end].decode())
    der = cms.ContentInfo.load(hole, strict=False).dump()
    found = re.search(rb"/ByteRange \[\s*(\d+) (\d+) (\d+) (\d+)", pdf)
    assert found is not None
    a, b, c, d = map(int, found.groups())
    return der, pdf[a : a + b] + pdf[c : c + d]


def _assert_report(report: object) -> None:
    assert isinstance(report, ValidationReport), report
    assert report.verdict in DocumentVerdict
    json.loads(report.to_json())  # the whole report serialises


# --- verify ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("family", "level"), CASES, ids=[f"{f}-{lv}" for f, lv in CASES])
def test_verify_answers_mutated_sealed_pdfs(sealed, family: str, level: Level) -> None:
    pdf, services = sealed[family, level], services_for(family)
    hot = hot_spots(pdf, PDF_MARKERS)

    @fuzz(60)
    @given(data=mutated(pdf, hot))
    def check(data: bytes) -> None:
        _assert_report(bounded("verify(pdf)", verify, data, trust=services.trust))

    check()


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_mutated_cms_is_a_report_or_a_pki_error(sealed, family: str) -> None:
    """The CMS of a B-LTA seal, mutated: inside the PDF for ``verify``, alone for pki.cms."""
    pdf, services = sealed[family, Level.B_LTA], services_for(family)
    der, signed_bytes = _cms_of(pdf)
    assert verify_signed_data(cms.ContentInfo.load(der), signed_bytes)  # the seed is valid

    def check_alone(data: bytes) -> None:
        try:
            content_info = cms.ContentInfo.load(data)  # may refuse the outer header at once
        except (ValueError, TypeError):
            return
        with contextlib.suppress(PkiError):  # the contract: nothing else escapes
            verify_signed_data(content_info, signed_bytes)

    @fuzz(60)
    @given(data=mutated(der))
    def check(data: bytes) -> None:
        bounded("pki.cms.verify_signed_data", check_alone, data)
        report = bounded("verify(pdf with CMS)", verify, _with_cms(pdf, data), trust=services.trust)
        _assert_report(report)

    check()


# --- the HTTP protocol endpoints ------------------------------------------------------------------


def _openssl(*argv: str | Path) -> bytes:
    return subprocess.run(
        ["openssl", *map(str, argv)], capture_output=True, check=True, timeout=30
    ).stdout


@pytest.fixture(scope="module")
def time_stamp_queries(tmp_path_factory) -> list[bytes]:
    """``openssl ts -query`` (SHA-256 and SM3, with and without nonce) and an asn1crypto one
    with policy and an extension (which our TSA must reject, not crash on)."""
    directory = tmp_path_factory.mktemp("tsq")
    document = directory / "document.txt"
    document.write_bytes("营业执照".encode() * 100)
    queries = [
        _openssl("ts", "-query", "-data", document, "-sha256", "-cert"),
        _openssl("ts", "-query", "-data", document, "-sm3", "-no_nonce"),
    ]
    built = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha512"},
                "hashed_message": bytes(64),
            },
            "req_policy": "1.2.3.4.5",
            "nonce": 2**70,
            "cert_req": True,
            "extensions": [{"extn_id": "1.2.3.4.6", "critical": False, "extn_value": b"\x05\x00"}],
        }
    )
    return [*queries, built.dump()]


@pytest.fixture(scope="module")
def ocsp_requests(api_world: ApiWorld, tmp_path_factory) -> dict[str, list[bytes]]:
    """``openssl ocsp -reqout`` for a demo seal of each hierarchy (SHA-1 and SHA-256 CertID)."""
    directory = tmp_path_factory.mktemp("ocsp")
    found: dict[str, list[bytes]] = {}
    for hierarchy in ("rsa", "sm2"):
        demo = api_world.demo_seal("ZZ-FTZ", hierarchy)
        seal_pem, issuing_pem, _ = api_world.client.get(f"/v1/seals/{demo.code}").json()[
            "chain_pem"
        ]
        (directory / "seal.pem").write_text(seal_pem)
        (directory / "issuing.pem").write_text(issuing_pem)
        found[hierarchy] = []
        for digest in ("-sha1", "-sha256"):
            out = directory / f"{hierarchy}{digest}.der"
            # The digest option goes first: openssl applies it to the -cert after it.
            _openssl("ocsp", digest, "-issuer", directory / "issuing.pem", "-cert",
                     directory / "seal.pem", "-reqout", out)  # fmt: skip
            found[hierarchy].append(out.read_bytes())
    return found


def _post(world: ApiWorld, url: str, body: bytes, media_type: str):
    return world.client.post(url, content=body, headers={"Content-Type": media_type})


@pytest.mark.parametrize("hierarchy", ["rsa", "sm2"])
def test_tsa_answers_mutated_queries(api_world: ApiWorld, time_stamp_queries, hierarchy) -> None:
    url = f"/pki/{hierarchy}/tsa"
    for seed in time_stamp_queries:  # the seeds themselves: granted or a clean rejection
        assert _post(api_world, url, seed, "application/timestamp-query").status_code == 200

    @fuzz(150)
    @given(data=st.sampled_from(time_stamp_queries).flatmap(mutated))
    def check(data: bytes) -> None:
        response = bounded(
            "POST /pki/h/tsa", _post, api_world, url, data, "application/timestamp-query"
        )
        assert response.status_code < 500, response.text
        if response.status_code == 200:
            answer = TimeStampResp.load(response.content)
            assert answer["status"]["status"].native in ("granted", "rejection")
            if answer["status"]["status"].native == "granted":
                token = answer["time_stamp_token"]["content"]
                tsp.TSTInfo.load(bytes(token["encap_content_info"]["content"]))

    check()


@pytest.mark.parametrize("hierarchy", ["rsa", "sm2"])
def test_ocsp_answers_mutated_requests(api_world: ApiWorld, ocsp_requests, hierarchy) -> None:
    seeds = ocsp_requests[hierarchy]
    for seed in seeds:
        answer = _post(api_world, f"/pki/{hierarchy}/ocsp", seed, "application/ocsp-request")
        assert ocsp.OCSPResponse.load(answer.content)["response_status"].native == "successful"

    def get(data: bytes):
        encoded = quote(base64.b64encode(data).decode(), safe="")
        return api_world.client.get(f"/pki/{hierarchy}/ocsp/{encoded}")

    @fuzz(120)
    @given(data=st.sampled_from(seeds).flatmap(mutated), use_get=st.booleans())
    def check(data: bytes, use_get: bool) -> None:
        if use_get:
            response = bounded("GET /pki/h/ocsp", get, data)
        else:
            url = f"/pki/{hierarchy}/ocsp"
            response = bounded(
                "POST /pki/h/ocsp", _post, api_world, url, data, "application/ocsp-request"
            )
        assert response.status_code < 500, response.text
        if response.status_code == 200:
            status = ocsp.OCSPResponse.load(response.content)["response_status"].native
            assert status in ("successful", "malformed_request", "internal_error", "unauthorized")

    check()


# --- POST /v1/verify -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service_sealed(api_world: ApiWorld) -> dict[str, bytes]:
    """The 1-page licence sealed by the service itself (demo seals, B-T), per hierarchy.

    Invisible and at B-T so it stays under the test app's 64 KiB upload limit (a stamped
    B-LTA file is ~100 KiB); the service answers revocation for its own seals offline.
    """
    from helpers.pdf_fixtures import chinese_pdf

    token = api_world.api_key(department="ZZ-FTZ", scopes={"sign"})
    found = {}
    for hierarchy in ("rsa", "sm2"):
        demo = api_world.demo_seal("ZZ-FTZ", hierarchy)
        response = api_world.client.post(
            f"/v1/seals/{demo.code}/sign",
            params={"level": "B-T", "invisible": True},
            content=chinese_pdf(1),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"},
        )
        assert response.status_code == 200, response.text
        assert len(response.content) < api_world.settings.max_pdf_bytes - 4096
        found[hierarchy] = response.content
    return found


def _verify_over_http(world: ApiWorld, pdf: bytes) -> dict:
    response = _post(world, "/v1/verify", pdf, "application/pdf")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("hierarchy", ["rsa", "sm2"])
def test_v1_verify_answers_mutated_pdfs(api_world: ApiWorld, service_sealed, hierarchy) -> None:
    pdf = service_sealed[hierarchy]
    assert _verify_over_http(api_world, pdf)["verdict"] == "TOTAL_PASSED"
    hot = hot_spots(pdf, PDF_MARKERS)

    @fuzz(40)
    @given(data=mutated(pdf, hot))
    def check(data: bytes) -> None:
        report = bounded("POST /v1/verify", _verify_over_http, api_world, data)
        assert report["verdict"] in {v.value for v in DocumentVerdict}

    check()


# --- hostile documents ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(HOSTILE))
def test_verify_bounds_hostile_documents(name: str) -> None:
    services = services_for("rsa")
    report = bounded(f"verify({name})", verify, HOSTILE[name](), trust=services.trust)
    _assert_report(report)
    assert report.verdict in (DocumentVerdict.TOTAL_FAILED, DocumentVerdict.NOT_SIGNED)


def _seal_or_refusal(services: TestServices, pdf: bytes, placement: Placement) -> str:
    """``sealed`` (and the result verifies to a report) or the refusal's message."""
    try:
        result = services.seal(pdf, Level.B_B, placement=placement)
    except InvalidInput as exc:
        return str(exc)
    _assert_report(verify(result, trust=services.trust))
    return "sealed"


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize(
    "placement",
    [Placement(x_mm=150, y_mm=60), Placement(anchor="（盖章）")],
    ids=["position", "anchor"],
)
def test_sealing_bounds_hostile_documents(name: str, placement: Placement) -> None:
    outcome = bounded(
        f"seal({name})", _seal_or_refusal, services_for("sm2"), HOSTILE[name](), placement
    )
    if "bomb" in name and placement.anchor and "image" not in name and "object" not in name:
        assert "too large to search for the anchor text" in outcome
    elif "deep" in name or "loop" in name or "chain" in name:
        assert outcome.startswith("the PDF cannot be"), outcome  # a clear refusal
    else:
        assert outcome == "sealed" or "anchor text" in outcome, outcome


def test_dss_full_of_crl_bombs_is_refused(sealed) -> None:
    services = services_for("rsa")
    pdf = dss_bomb(sealed["rsa", Level.B_LTA])
    report = bounded("verify(DSS bomb)", verify, pdf, trust=services.trust)
    assert report.verdict is DocumentVerdict.TOTAL_FAILED
    assert "document security store" in report.message


_SMALL_HOSTILE = {
    "content bomb, two Flate layers": lambda: content_bomb(1024, 2),
    "arrays 20k deep": lambda: nested(20_000),
    "reference loop": reference_loop,
    "page tree loop": page_tree_loop,
    "xref /Prev loop": prev_loop,
}
"""Hostile documents small enough for the test app's 64 KiB upload limit."""


@pytest.mark.parametrize("name", list(_SMALL_HOSTILE))
def test_api_bounds_hostile_documents(api_world: ApiWorld, name: str) -> None:
    pdf = _SMALL_HOSTILE[name]()
    assert len(pdf) < api_world.settings.max_pdf_bytes
    report = bounded(f"POST /v1/verify ({name})", _verify_over_http, api_world, pdf)
    assert report["verdict"] in ("TOTAL_FAILED", "NOT_SIGNED")
    token = api_world.api_key(department="ZZ-FTZ", scopes={"sign"})
    demo = api_world.demo_seal("ZZ-FTZ", "sm2")
    for placement in ({"x_mm": 150, "y_mm": 60}, {"anchor": "（盖章）"}):
        response = bounded(
            f"POST /v1/seals/code/sign ({name})",
            lambda p=placement: api_world.client.post(
                f"/v1/seals/{demo.code}/sign",
                params={"level": "B-B", **p},
                content=pdf,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"},
            ),
        )
        assert response.status_code == 200 or 400 <= response.status_code < 500, response.text
        if response.status_code != 200:
            assert response.headers["content-type"] == "application/problem+json"


def test_api_refuses_a_large_bomb_before_reading_it(api_world: ApiWorld) -> None:
    response = _post(api_world, "/v1/verify", content_bomb(), "application/pdf")
    assert response.status_code == 413


_MEMORY_PROBE = """
import sys
sys.path.insert(0, {tests!r})
from helpers.hostile_pdfs import HOSTILE
from helpers.verify_corpus import services_for
from sealsvc.errors import InvalidInput
from sealsvc.pades import Level, Placement
from sealsvc.verification import verify
def peak_rss_mib():
    # VmHWM is this process image's own high-water mark.  ru_maxrss is not: Linux carries
    # the parent's RSS at fork into the child's figure, so a probe started from a pytest
    # process that had grown to 700 MiB reported 700 MiB before doing anything.
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) // 1024
services = services_for("rsa")
start = peak_rss_mib()
for build in HOSTILE.values():
    pdf = build()
    verify(pdf, trust=services.trust)
    for placement in (Placement(x_mm=150, y_mm=60), Placement(anchor="x")):
        try:
            services.seal(pdf, Level.B_B, placement=placement)
        except InvalidInput:
            pass
print(start, peak_rss_mib())
"""


def test_hostile_documents_take_bounded_memory() -> None:
    """Verify and seal (position and anchor) every hostile document in one fresh process."""
    probe = _MEMORY_PROBE.format(tests=str(Path(__file__).parent))
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    before, peak = map(int, done.stdout.split()[-2:])
    assert peak < PEAK_RSS_LIMIT_MIB, f"peak RSS {peak} MiB (after imports: {before} MiB)"


# --- regressions found by the fuzzer ------------------------------------------------------------

_SHA256_NULL = bytes.fromhex("0609608648016503040201") + b"\x05\x00"
_SHA256_OBJECT_DESCRIPTOR = _SHA256_NULL[:-2] + b"\x07\x00"
"""sha256 whose parameters are an (empty) ObjectDescriptor: asn1crypto has no ``.native``
for that type and raised AttributeError, which the TSA and the OCSP responder (and
:func:`pki.ocsp.parse_response`) did not catch: a 500 over HTTP."""


def test_object_descriptor_parameters_are_bad_input(api_world: ApiWorld, ocsp_requests) -> None:
    imprint = {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": bytes(32)}
    query = tsp.TimeStampReq({"version": "v1", "message_imprint": imprint}).dump()
    query = query.replace(_SHA256_NULL, _SHA256_OBJECT_DESCRIPTOR)
    answer = _post(api_world, "/pki/sm2/tsa", query, "application/timestamp-query")
    assert answer.status_code == 200
    status = TimeStampResp.load(answer.content)["status"]
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {"bad_data_format"}

    request = ocsp_requests["rsa"][1]  # SHA-256 CertID
    assert _SHA256_NULL in request
    request = request.replace(_SHA256_NULL, _SHA256_OBJECT_DESCRIPTOR)
    answer = _post(api_world, "/pki/rsa/ocsp", request, "application/ocsp-request")
    assert answer.status_code == 200
    assert ocsp.OCSPResponse.load(answer.content)["response_status"].native == "malformed_request"

    # The client side too: a response carrying one is an OcspError, not an AttributeError.
    good = _post(api_world, "/pki/rsa/ocsp", ocsp_requests["rsa"][1], "application/ocsp-request")
    issuer = x509.Certificate.load(api_world.client.get("/pki/rsa/issuing.crt").content)
    with pytest.raises(OcspError):
        parse_response(good.content.replace(_SHA256_NULL, _SHA256_OBJECT_DESCRIPTOR), issuer)
