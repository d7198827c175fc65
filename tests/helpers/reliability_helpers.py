"""Tools for the crash-consistency and concurrency suites: real processes, real checks.

* The server itself is :class:`helpers.server.ServerProcess` (its ``kill9`` is the power
  cut); :class:`Forker` can fork it instead of exec'ing ``sealctl``.
* :class:`Forker` — ``sealctl`` commands (the server too) as forks of a process that
  imported sealctl once, killed with SIGKILL a chosen time after their fork: the delay
  then falls into the command's own work, not into seconds of Python imports.
* :func:`check_data_dir` — everything that must hold in a data directory after any crash:
  registry ⇄ key store, key files, audit chain, licence files.
* :func:`validate_rsa_seal`, :func:`timestamp_serials` — a sealed PDF checked by pyHanko's
  validator, and the serials of its RFC 3161 tokens.

Import as ``from helpers.reliability_helpers import ...``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from asn1crypto import cms, crl, tsp, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from helpers.server import die_with_parent
from pki.certificates import load_certificate
from pki.keystore import FileKeyStore
from sealsvc import audit
from sealsvc.context import ServiceContext
from sealsvc.licences import get_licence_pdf
from sealsvc.models import Certificate, Licence, Seal

__all__ = [
    "DataDirState",
    "ForkedExit",
    "Forker",
    "RsaTrust",
    "check_data_dir",
    "pdfsig_valid_signatures",
    "rsa_trust",
    "signer_serial",
    "signing_time",
    "timestamp_serials",
    "validate_rsa_seal",
]

_KEYSTORE_FILE = "keystore.json"


# --- processes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForkedExit:
    """How a forked command ended."""

    finished: bool
    """It exited by itself before its deadline (else it was killed with SIGKILL)."""
    exit_code: int | None
    seconds: float
    """From fork to exit or kill."""


class Forker:
    """Runs ``sealctl`` commands as forks of a process that imported sealctl (and the
    API) once, so a command starts its work at once instead of after seconds of imports.

    Each command is a real process of its own (own session, fresh database connections,
    key store opened from disk) and is killed with SIGKILL exactly ``timeout`` seconds
    after its fork; that is what makes kill delays of a few hundred milliseconds land in
    the command's work.  The forking process is ``python -m helpers.reliability_helpers``.
    """

    def __init__(self, environ: dict[str, str], cwd: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "helpers.reliability_helpers"],
            env={**environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_parent,  # only prctl: safe between fork and exec
        )
        self._ready = False

    def _ask(self, request: dict) -> dict:
        assert self._process.stdin is not None and self._process.stdout is not None
        if not self._ready:
            assert self._process.stdout.readline() == b"ready\n", "the forker did not start"
            self._ready = True
        self._process.stdin.write(json.dumps(request).encode() + b"\n")
        self._process.stdin.flush()
        return json.loads(self._process.stdout.readline())

    def start(self, args: list[str], log: Path) -> int:
        """Fork ``sealctl *args`` (output appended to ``log``); its pid."""
        return self._ask({"op": "start", "args": args, "log": str(log)})["pid"]

    def wait(self, pid: int, timeout: float) -> ForkedExit:
        """Wait for ``pid`` to exit; SIGKILL its process group ``timeout`` s after its fork."""
        return ForkedExit(**self._ask({"op": "wait", "pid": pid, "timeout": timeout}))

    def run(self, args: list[str], log: Path, kill_after: float) -> ForkedExit:
        return self.wait(self.start(args, log), kill_after)

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)


def _forker_main() -> None:
    """The forking process of :class:`Forker`: one JSON request per line on stdin."""
    import api.app  # noqa: F401 - imported once here, inherited by every fork
    from sealsvc.cli.main import app

    forked_at: dict[int, float] = {}
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "start":
            pid = os.fork()
            if pid == 0:
                _forked_child(app, request["args"], request["log"])
            forked_at[pid] = time.monotonic()
            reply: dict = {"pid": pid}
        else:
            pid = request["pid"]
            reply = _reap(pid, forked_at.pop(pid), request["timeout"])
        print(json.dumps(reply), flush=True)


def _forked_child(app, args: list[str], log: str) -> None:
    os.setsid()
    die_with_parent()  # a fork inherits no death signal: set it, to die with the forker
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    code = 1
    try:
        app(args, prog_name="sealctl")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        os._exit(code)


def _reap(pid: int, forked_at: float, timeout: float) -> dict:
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            exit_code, finished = os.waitstatus_to_exitcode(status), True
            break
        if time.monotonic() >= forked_at + timeout:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            exit_code, finished = None, False
            break
        time.sleep(0.002)
    return {"finished": finished, "exit_code": exit_code, "seconds": time.monotonic() - forked_at}


# --- checks on a data directory ------------------------------------------------------------


@dataclass
class DataDirState:
    """What :func:`check_data_dir` found (figures for the test output)."""

    seals: int = 0
    certificates: int = 0
    key_files: int = 0
    orphan_keys: list[str] = field(default_factory=list)
    licences: int = 0
    renames_finished: int = 0
    """Licences whose file still had its temporary name (commit done, rename cut off)."""
    garbage_tmp: list[str] = field(default_factory=list)
    """Temporary licence files no record refers to (crash before the commit)."""
    key_temporaries: list[str] = field(default_factory=list)
    """``.<key id>.key.*.tmp`` of a key write a kill cut off: the store never reads them,
    ``reconcile_orphan_keys`` sweeps them."""
    audit_entries: int = 0
    problems: list[str] = field(default_factory=list)


def check_data_dir(
    context: ServiceContext, verified_licences: set[str] | None = None
) -> DataDirState:
    """Everything a crash must not break; ``problems`` lists each violation found.

    ``verified_licences`` (file SHA-256s) is filled as licences are checked with pdfsig,
    so a long test checks each licence file once.
    """
    state = DataDirState()
    keys_dir = context.settings.keys_dir
    # A fresh store: every key file is read and decrypted from disk, no cached handles.
    store = FileKeyStore.open(keys_dir, context.settings.passphrase())
    _check_key_files(store, keys_dir, state)
    with context.database.session(read_only=True) as session:
        referenced = _check_registry(session, store, state)
        report = audit.verify(session)
        state.audit_entries = report.entries
        state.problems += [f"audit: {p.message}" for p in report.problems]
        licence_rows = session.scalars(select(Licence).order_by(Licence.id)).all()
    state.orphan_keys = sorted(
        info.key_id for info in store.list() if info.key_id not in referenced
    )
    _check_licences(context, licence_rows, state, verified_licences)
    return state


_KEY_TEMPORARY = re.compile(r"\.[0-9a-f]{40}\.key\.[A-Za-z0-9_]+\.tmp")


def _check_key_files(store: FileKeyStore, keys_dir: Path, state: DataDirState) -> None:
    names = sorted(p.name for p in keys_dir.iterdir())
    others = [n for n in names if n != _KEYSTORE_FILE and not n.endswith(".key")]
    state.key_temporaries = [n for n in others if _KEY_TEMPORARY.fullmatch(n)]
    stray = [n for n in others if n not in state.key_temporaries]
    state.problems += [f"keys/: stray file {n}" for n in stray]
    for info in store.list():  # authenticates each file's metadata
        state.key_files += 1
        try:
            store.signer(info.key_id)  # decrypts and checks private ⇄ public
        except Exception as exc:
            state.problems.append(f"key {info.key_id} does not load: {exc}")


def _key_matches(store: FileKeyStore, key_id: str, der: bytes) -> str | None:
    """``None`` if ``key_id`` is in the store and holds the certificate's public key."""
    try:
        stored = store.signer(key_id).public_key_info.dump()
    except Exception as exc:
        return f"missing or unreadable: {exc}"
    if stored != load_certificate(der).public_key.dump():
        return "does not hold the certificate's public key"
    return None


def _check_registry(session, store: FileKeyStore, state: DataDirState) -> set[str]:
    """Every certificate's key exists and matches; every seal's current certificate too."""
    referenced: set[str] = set()
    certificates = {c.id: c for c in session.scalars(select(Certificate))}
    state.certificates = len(certificates)
    for row in certificates.values():
        referenced.add(row.key_id)
        problem = _key_matches(store, row.key_id, row.der)
        if problem:
            state.problems.append(f"certificate {row.serial}: key {row.key_id} {problem}")
    for seal in session.scalars(select(Seal)):
        state.seals += 1
        referenced.add(seal.key_id)
        current = certificates.get(seal.current_certificate_id)
        if current is None:
            state.problems.append(f"seal {seal.code}: current certificate missing")
        elif current.seal_id != seal.id or current.key_id != seal.key_id:
            state.problems.append(f"seal {seal.code}: current certificate is not its own")
    return referenced


def _check_licences(
    context: ServiceContext,
    rows: list[Licence],
    state: DataDirState,
    verified: set[str] | None,
) -> None:
    directory = context.settings.data_dir / "licences"
    state.licences = len(rows)
    for row in rows:
        pending = not (directory / row.file_name).exists()
        try:
            pdf = get_licence_pdf(context, row.number, row.version)  # finishes the rename
        except Exception as exc:
            state.problems.append(f"licence {row.number} v{row.version}: {exc}")
            continue
        state.renames_finished += pending
        digest = hashlib.sha256(pdf).hexdigest()
        if verified is not None and digest in verified:
            continue
        seals_count = len(json.loads(row.seal_codes))
        valid = pdfsig_valid_signatures(pdf, directory.parent / ".pdfsig-check.pdf")
        if valid < seals_count:
            state.problems.append(f"licence {row.number}: pdfsig finds {valid} valid signatures")
        elif verified is not None:
            verified.add(digest)
    names = {row.file_name for row in rows}
    for path in sorted(directory.iterdir()) if directory.exists() else ():
        if path.name.endswith(".pdf"):
            if path.name not in names:
                state.problems.append(f"licences/{path.name} has no record")
        elif path.name.endswith(".tmp"):
            state.garbage_tmp.append(path.name)  # no record: the crash came before the commit
        else:
            state.problems.append(f"licences/: unexpected file {path.name}")


def pdfsig_valid_signatures(pdf: bytes, scratch: Path) -> int:
    """How many signatures poppler's ``pdfsig`` reports as "Signature is Valid."."""
    scratch.write_bytes(pdf)
    try:
        result = subprocess.run(
            ["pdfsig", "-no-ocsp", str(scratch)], capture_output=True, text=True, timeout=60
        )
    finally:
        scratch.unlink(missing_ok=True)
    output = result.stdout + result.stderr
    if "Signature is Invalid" in output:
        return 0
    return output.count("Signature is Valid.")


# --- sealed PDFs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RsaTrust:
    """The RSA hierarchy's root (the only trust anchor), issuing CA and newest CRLs."""

    root: x509.Certificate
    issuing: x509.Certificate
    crls: tuple[crl.CertificateList, ...]

    def revocation_time(self, serial: int) -> datetime | None:
        """When the CRLs say certificate ``serial`` was revoked (or put on hold)."""
        for certificate_list in self.crls:
            for entry in certificate_list["tbs_cert_list"]["revoked_certificates"] or ():
                if entry["user_certificate"].native == serial:
                    return entry["revocation_date"].native
        return None

    def validation_context(self, moment: datetime | None = None) -> ValidationContext:
        """Never fetch; ``soft-fail``: a certificate the CRLs list as revoked (at
        ``moment``, default now) fails, one they do not list (a superseded one) passes."""
        return ValidationContext(
            trust_roots=[self.root],
            other_certs=[self.issuing],
            crls=list(self.crls),
            allow_fetching=False,
            revocation_mode="soft-fail",
            moment=moment,
        )


def rsa_trust(context: ServiceContext) -> RsaTrust:
    """:class:`RsaTrust` as the registry holds it now."""
    with context.database.session(read_only=True) as session:
        ca_set = context.ca.ca_set(session, "rsa")
        crls = []
        for issuer in (ca_set.root, ca_set.issuing):
            newest = context.ca.latest_crl(session, issuer)
            if newest is not None:
                crls.append(crl.CertificateList.load(newest.der))
        return RsaTrust(
            x509.Certificate.load(ca_set.root.der),
            x509.Certificate.load(ca_set.issuing.der),
            tuple(crls),
        )


def validate_rsa_seal(pdf: bytes, trust: RsaTrust, *, at_signing_time: bool = False) -> str | None:
    """``None`` if the last signature and its time-stamp validate, else why not.

    ``at_signing_time`` validates at the signature time-stamp's time (``trust`` must then
    hold CRLs issued before it: pyHanko refuses a CRL newer than the validation time).
    """
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[-1]
    validation_context = trust.validation_context(signing_time(pdf) if at_signing_time else None)
    status = validate_pdf_signature(
        signature, validation_context, ts_validation_context=validation_context
    )
    if not status.bottom_line:
        return status.pretty_print_details()
    ts = status.timestamp_validity
    if ts is not None and not (ts.intact and ts.valid and ts.trusted):
        return "time-stamp does not validate"
    return None


def signing_time(pdf: bytes) -> datetime:
    """``genTime`` of the last signature's signature time-stamp (B-T and above)."""
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[-1]
    (info,) = _timestamp_infos(signature)
    return info["gen_time"].native


def signer_serial(pdf: bytes) -> int:
    """Serial number of the certificate that made the last signature."""
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[-1]
    return signature.signer_cert.serial_number


def _timestamp_infos(signature: EmbeddedPdfSignature) -> list[tsp.TSTInfo]:
    """TSTInfo of a document time-stamp, or of a signature's signature-time-stamp tokens."""
    tokens: list[cms.SignedData] = []
    if signature.sig_object.get("/SubFilter") == "/ETSI.RFC3161":
        tokens.append(signature.signed_data)
    for attribute in signature.signer_info["unsigned_attrs"] or ():
        if attribute["type"].native == "signature_time_stamp_token":
            tokens += [value["content"] for value in attribute["values"]]
    infos = []
    for signed_data in tokens:
        content = signed_data["encap_content_info"]["content"]
        parsed = content.parsed
        infos.append(
            parsed if isinstance(parsed, tsp.TSTInfo) else tsp.TSTInfo.load(content.contents)
        )
    return infos


def timestamp_serials(pdf: bytes) -> list[int]:
    """TSTInfo serial numbers of every RFC 3161 token in the PDF's signatures."""
    return [
        info["serial_number"].native
        for signature in PdfFileReader(io.BytesIO(pdf)).embedded_signatures
        for info in _timestamp_infos(signature)
    ]


if __name__ == "__main__":
    _forker_main()
