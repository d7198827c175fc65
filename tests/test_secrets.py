"""Secrets stay secret: a realistic workload at DEBUG, then a search of everything it left.

The workload (one data directory, its own random passphrase): ``sealctl init``, RSA and SM2
seals, PDFs sealed at every PAdES level, suspend/resume, rotation, revocation, a B-LTA
licence, API keys (CLI and Python), the HTTP API in-process (good and bad keys, a bad PDF,
a revoked seal, another department's seal, a wrong passphrase) and a real
``sealctl serve --log-level debug`` subprocess. Every logger is at DEBUG into a file.

Then every artefact — the log file, the server's stdout/stderr, every API response (body
and headers), every exception's text, repr and traceback, every CLI output, the audit
trail, a dump of every table through plain ``sqlite3``, and the bytes of every file in the
data directory outside the key store — is searched for:

* each private key in the key store, decrypted here with the passphrase by following the
  key store's documented format (scrypt → AES-256-GCM with the metadata as associated
  data), in every form it could leak in: PKCS#8 DER, its hex and base64, the PEM body lines,
  the private scalar / RSA ``d``, ``p``, ``q`` as bytes, hex and decimal;
* the master passphrase;
* the API tokens and their secret parts (the key id may appear; the token is printed once,
  by ``sealctl apikey create``, and nowhere else).

Also: key files 0600 and the key directory 0700; API keys stored as SHA-256 only; path
traversal in licence numbers, template names and seal codes refused in Python and over
HTTP (4xx ``application/problem+json``), with nothing opened or written outside the data
directory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import sqlite3
import stat
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from asn1crypto import keys, pem
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from fastapi.testclient import TestClient
from helpers.pdf_fixtures import chinese_pdf
from helpers.server import ServerProcess
from typer.testing import CliRunner

from api.app import create_app
from pki.errors import KeyStoreError, WrongPassphrase
from pki.keystore import FileKeyStore
from sealsvc import apikeys, audit, seals
from sealsvc.cli.main import app as sealctl_app
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput, NotFound, SealNotUsable
from sealsvc.licences import (
    annul_licence,
    check_number,
    get_licence,
    get_licence_pdf,
    issue_licence,
    licence_status,
    load_template,
)
from sealsvc.pades import Level, Placement, SealOptions
from sealsvc.sealing import Sealer

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

ACTOR = "test:secrets"
DEPT = "郑州市市场监督管理局"
OTHER_DEPT = "郑州市城乡建设局"
PROBLEM_JSON = "application/problem+json"


# --- the key store, decrypted independently -------------------------------------------------


def _decrypt_key_store(directory: Path, passphrase: str) -> dict[str, bytes]:
    """key id → PKCS#8 DER, following the format documented in :mod:`pki.keystore`."""
    store = json.loads((directory / "keystore.json").read_text())
    kdf = store["kdf"]
    assert (store["format"], store["cipher"], kdf["name"]) == (
        "sealsvc-keystore",
        "aes-256-gcm",
        "scrypt",
    )
    master = Scrypt(
        salt=base64.b64decode(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]
    ).derive(passphrase.encode())
    aead = AESGCM(master)
    verifier = store["verifier"]
    assert aead.decrypt(
        base64.b64decode(verifier["nonce"]),
        base64.b64decode(verifier["ciphertext"]),
        b"sealsvc-keystore/verifier/v1",
    )
    found = {}
    for path in sorted(directory.glob("*.key")):
        envelope = json.loads(path.read_text())
        bound = {
            k: envelope[k]
            for k in ("version", "key_id", "algorithm", "label", "created_at", "public_key")
        }
        aad = (
            b"sealsvc-keystore/key/v1\x00"
            + json.dumps(bound, sort_keys=True, separators=(",", ":")).encode()
        )
        found[envelope["key_id"]] = aead.decrypt(
            base64.b64decode(envelope["nonce"]), base64.b64decode(envelope["ciphertext"]), aad
        )
    return found


def _int_forms(label: str, value: int) -> dict[str, bytes]:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return {
        f"{label} bytes": raw,
        f"{label} hex": raw.hex().encode(),
        f"{label} HEX": raw.hex().upper().encode(),
        f"{label} decimal": str(value).encode(),
    }


def _key_needles(key_id: str, der: bytes) -> dict[str, bytes]:
    """Every form in which the private key ``der`` (PKCS#8) could leak."""
    needles = {
        "pkcs8 der": der,
        "pkcs8 hex": der.hex().encode(),
        "pkcs8 HEX": der.hex().upper().encode(),
        "pkcs8 base64": base64.b64encode(der),
        "pkcs8 base64url": base64.urlsafe_b64encode(der).rstrip(b"="),
    }
    for number, line in enumerate(pem.armor("PRIVATE KEY", der).splitlines()[1:-1]):
        if len(line) >= 32:
            needles[f"pem line {number}"] = line
    info = keys.PrivateKeyInfo.load(der)
    private = info["private_key"].parsed
    if info.algorithm == "rsa":
        for field in ("private_exponent", "prime1", "prime2"):
            needles.update(_int_forms(field, private[field].native))
    else:  # ec: P-256 or SM2 (curve 1.2.156.10197.1.301)
        scalar = private["private_key"].native
        needles.update(_int_forms("scalar", scalar))
        needles["scalar 32 bytes"] = scalar.to_bytes(32, "big")
    return {f"{key_id[:8]} {name}": value for name, value in needles.items()}


# --- what the workload left behind ----------------------------------------------------------


class Haystack:
    """Named byte blobs the workload produced, searched for needles."""

    def __init__(self) -> None:
        self.parts: dict[str, bytes] = {}

    def add(self, name: str, data: bytes | str) -> None:
        blob = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        self.parts[f"{len(self.parts):03d} {name}"] = blob

    def exception(self, name: str, exc: BaseException) -> None:
        self.add(f"{name}: str", str(exc))
        self.add(f"{name}: repr", repr(exc))
        self.add(f"{name}: traceback", "".join(traceback.format_exception(exc)))

    def expect(self, name: str, error: type[BaseException], run: Callable[[], object]) -> None:
        with pytest.raises(error) as caught:
            run()
        self.exception(name, caught.value)

    def response(self, name: str, response: httpx.Response) -> httpx.Response:
        self.add(f"{name}: status+headers", f"{response.status_code} {response.headers!r}")
        self.add(f"{name}: body", response.content)
        return response

    def hits(self, needles: dict[str, bytes], skip: Callable[[str], bool] = lambda _: False):
        return [
            (part, needle)
            for part, blob in self.parts.items()
            if not skip(part)
            for needle, value in needles.items()
            if value in blob
        ]


@pytest.fixture
def debug_log(tmp_path: Path) -> Iterator[Path]:
    """Every logger at DEBUG into a file for the test (levels restored afterwards)."""
    path = tmp_path / "debug.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    loggers = [root] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled


def _sealctl(
    haystack: Haystack, data_dir: Path, *args: str, ok: bool | None = True, env=None
) -> str:
    """Run the CLI in-process; ``ok`` = expected success (``None``: either)."""
    result = CliRunner().invoke(
        sealctl_app, ["--data-dir", str(data_dir), *args], env=env or dict(os.environ)
    )
    haystack.add(f"cli {' '.join(args[:2])}: output", result.output)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        haystack.exception(f"cli {' '.join(args[:2])}", result.exception)
    assert ok is None or (result.exit_code == 0) is ok, result.output
    return result.stdout


def _seal_all_levels(haystack: Haystack, sealer: Sealer, code: str) -> None:
    for level in Level:
        options = SealOptions(level=level, placement=Placement(invisible=level is Level.B_B))
        result = sealer.seal(chinese_pdf(1), code, options, actor=ACTOR)
        haystack.add(f"sealed {code} {level}", result.pdf)


def _api_workload(
    haystack: Haystack, settings: Settings, rsa: str, sm2: str, revoked: str, other: str
) -> list[str]:
    """The HTTP API in-process: returns the tokens it created."""
    with ServiceContext(settings).database.session() as session:
        _, signer_token = apikeys.create_api_key(
            session, name="审批系统", scopes={"sign"}, department=DEPT, actor=ACTOR
        )
        _, dropped_token = apikeys.create_api_key(
            session, name="旧系统", scopes={"sign"}, department=DEPT, actor=ACTOR
        )
        apikeys.revoke_api_key(session, dropped_token.split("_")[1], actor=ACTOR)
    key_id = signer_token.split("_")[1]
    wrong_secret = f"sk_{key_id}_{secrets.token_urlsafe(32)[:43]}"
    pdf = chinese_pdf(1)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:

        def sign(code: str, token: str | None, body: bytes = pdf, **params) -> httpx.Response:
            headers = {"Content-Type": "application/pdf"}
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            return client.post(
                f"/v1/seals/{code}/sign", content=body, params=params, headers=headers
            )

        assert haystack.response("sign rsa", sign(rsa, signer_token)).status_code == 200
        sm2_signed = sign(sm2, signer_token, level="B-LTA")
        assert haystack.response("sign sm2", sm2_signed).status_code == 200
        refusals = {
            "wrong secret": (sign(rsa, wrong_secret), 401),
            "malformed key": (sign(rsa, "sk_" + signer_token[3:-1]), 401),
            "revoked key": (sign(rsa, dropped_token), 401),
            "no key": (sign(rsa, None), 401),
            "bad pdf": (sign(rsa, signer_token, b"%PDF-1.7 not really\n"), 400),
            "revoked seal": (sign(revoked, signer_token), 409),
            "other department": (sign(other, signer_token), 403),
        }
        for name, (response, status) in refusals.items():
            haystack.response(name, response)
            assert response.status_code == status, (name, response.text)
            assert response.headers["content-type"] == PROBLEM_JSON
        for path in ("/readyz", f"/v1/seals/{rsa}", "/pki/sm2/issuing.crl", "/metrics"):
            assert haystack.response(path, client.get(path)).status_code == 200
    app.state.context.close()

    # The same service started with a wrong passphrase: not ready, and says no more.
    wrong = Settings.load(settings.data_dir, {"SEALSVC_PASSPHRASE": settings.passphrase() + "!"})
    app = create_app(wrong)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert haystack.response("wrong pass readyz", client.get("/readyz")).status_code == 503
        response = haystack.response("wrong pass sign", sign(rsa, signer_token))
        assert response.status_code >= 400
    app.state.context.close()
    return [signer_token, dropped_token, wrong_secret]


def _serve_workload(
    haystack: Haystack, data_dir: Path, passphrase: str, token: str, code: str
) -> str:
    """``sealctl serve --log-level debug`` on the data directory; returns its output."""
    server = ServerProcess(
        data_dir,
        env={"SEALSVC_PASSPHRASE": passphrase},
        serve_options=("--log-level", "debug"),
        bootstrap=False,
    )
    server.start(timeout=60)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"}
            ok = client.post(f"/v1/seals/{code}/sign", content=chinese_pdf(1), headers=auth)
            assert haystack.response("serve sign", ok).status_code == 200
            bad = client.post(f"/v1/seals/{code}/sign", content=b"garbage", headers=auth)
            assert haystack.response("serve bad pdf", bad).status_code == 400
            wrong = {**auth, "Authorization": f"Bearer {token[:-4]}AAAA"}
            denied = client.post(f"/v1/seals/{code}/sign", content=chinese_pdf(1), headers=wrong)
            assert haystack.response("serve wrong key", denied).status_code == 401
    finally:
        server.stop()
    output = server.log.read_text(errors="replace")
    haystack.add("serve stdout+stderr", output)
    return output


def test_no_private_key_passphrase_or_api_token_leaks_anywhere(
    tmp_path: Path, debug_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passphrase = f"口令-{secrets.token_urlsafe(24)}"
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SEALSVC_PASSPHRASE", passphrase)
    monkeypatch.setenv("SEALSVC_DATA_DIR", str(data_dir))
    for name in ("SEALSVC_PASSPHRASE_FILE", "SEALSVC_DATABASE_URL", "SEALSVC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.load(data_dir)
    haystack = Haystack()
    cli = lambda *args, **kw: _sealctl(haystack, data_dir, *args, **kw)  # noqa: E731

    # CAs, departments, seals — through the CLI as an operator would.
    cli("init", "--dev", "--json")
    cli("dept", "import", "--json")

    def issue(dept: str, kind: str, alg: str) -> str:
        return json.loads(
            cli("seal", "issue", "--dept", dept, "--kind", kind, "--alg", alg, "--json")
        )["code"]

    rsa = issue(DEPT, "公章", "rsa")
    sm2 = issue(DEPT, "业务专用章", "sm2")
    doomed = issue(DEPT, "合同专用章", "rsa")
    other = issue(OTHER_DEPT, "公章", "sm2")

    # Sealing at every level, lifecycle changes, a licence — through the Python API.
    context = ServiceContext(settings)
    sealer = Sealer(context)
    for code in (rsa, sm2):
        _seal_all_levels(haystack, sealer, code)
    cli("seal", "suspend", sm2, "--json")
    haystack.expect(
        "sealing while suspended", SealNotUsable, lambda: _seal_all_levels(haystack, sealer, sm2)
    )
    cli("seal", "resume", sm2, "--json")
    haystack.add("rotate", repr(seals.rotate(context, rsa, actor=ACTOR)))
    cli("seal", "revoke", doomed, "--reason", "key_compromise", "--json")
    haystack.expect(
        "sealing when revoked", SealNotUsable, lambda: _seal_all_levels(haystack, sealer, doomed)
    )
    haystack.expect(
        "sealing garbage",
        InvalidInput,
        lambda: sealer.seal(b"garbage", rsa, SealOptions(), actor=ACTOR),
    )
    template = load_template("business_licence")
    record = issue_licence(context, template, template.example, [rsa], actor=ACTOR, sealer=sealer)
    haystack.add("licence record", repr(record))
    haystack.add("licence pdf", get_licence_pdf(context, record.number))
    (tmp_path / "in.pdf").write_bytes(chinese_pdf(1))
    cli(
        "sign",
        str(tmp_path / "in.pdf"),
        "--seal",
        sm2,
        "-o",
        str(tmp_path / "out.pdf"),
        "--level",
        "B-LTA",
        "--json",
    )
    cli("verify", str(tmp_path / "out.pdf"), "--json", ok=None)
    cli("audit", "verify")
    cli("seal", "show", rsa, "--json")

    # Wrong passphrases: the key store, the CLI.
    near_miss = passphrase + "!"  # echoing it would echo the real passphrase
    haystack.expect(
        "wrong passphrase", WrongPassphrase, lambda: FileKeyStore.open(settings.keys_dir, near_miss)
    )
    cli("seal", "rotate", rsa, env={**os.environ, "SEALSVC_PASSPHRASE": near_miss}, ok=False)
    haystack.expect("unknown key", KeyStoreError, lambda: context.keystore.signer("0" * 40))

    # API keys: one from the CLI (its token is printed once, by design), the rest in Python.
    created = json.loads(
        cli("apikey", "create", "--name", "批处理", "--dept", DEPT, "--scopes", "sign", "--json")
    )
    cli("apikey", "list", "--json")
    tokens = [created["token"], *_api_workload(haystack, settings, rsa, sm2, doomed, other)]
    serve_output = _serve_workload(haystack, data_dir, passphrase, tokens[1], sm2)

    # Handles and objects an operator or a log call might print.
    for info in context.keystore.list():
        haystack.add(f"repr info {info.key_id}", repr(info))
        signer = context.keystore.signer(info.key_id)
        haystack.add(f"repr signer {info.key_id}", f"{signer!r} {signer._key!r} {signer._key}")
    haystack.add("repr context", f"{context.keystore!r} {settings!r} {context.ca!r}")
    with context.database.session(read_only=True) as session:
        entries = [audit.entry_to_dict(e) for e in audit.query(session)]
    context.close()
    haystack.add("audit trail", json.dumps(entries, ensure_ascii=False))
    with sqlite3.connect(data_dir / "sealsvc.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            haystack.add(f"table {table}", repr(db.execute(f'SELECT * FROM "{table}"').fetchall()))
    db.close()
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and settings.keys_dir not in path.parents:
            haystack.add(f"file {path.relative_to(data_dir)}", path.read_bytes())
    haystack.add("debug log", debug_log.read_bytes())

    # The haystack is the real thing: DEBUG records of the libraries, requests, key ids.
    log_text = debug_log.read_text(encoding="utf-8")
    assert "DEBUG sqlalchemy.engine" in log_text and "INSERT INTO audit_entries" in log_text
    assert "DEBUG pyhanko" in log_text
    assert '"POST /v1/seals/' in serve_output and "401" in serve_output
    assert any(p.endswith("sealsvc.db") for p in haystack.parts)

    # Needles: every private key in every form, the passphrase, the tokens' secrets.
    stored = _decrypt_key_store(settings.keys_dir, passphrase)
    # 2 x (root, issuing, TSA, OCSP), the seal maker, 2 personal CAs, 4 seals, 1 rotation
    assert len(stored) == 8 + 1 + 2 + 4 + 1
    key_needles: dict[str, bytes] = {}
    for key_id, der in stored.items():
        key_needles.update(_key_needles(key_id, der))
    # The search finds a key when it is there (a PEM of one, as a careless log would).
    decoy = Haystack()
    decoy.add("decoy", b"log: " + pem.armor("PRIVATE KEY", next(iter(stored.values()))))
    assert decoy.hits(key_needles)
    assert haystack.hits(key_needles) == []
    assert haystack.hits({"passphrase": passphrase.encode()}) == []
    token_needles = {}
    for token in tokens:
        token_needles[f"token {token[:19]}"] = token.encode()
        token_needles[f"secret {token[:19]}"] = token.split("_", 2)[2].encode()
    printed_once = lambda part: part.endswith("cli apikey create: output")  # noqa: E731
    assert haystack.hits(token_needles, skip=printed_once) == []
    # ... while the key ids, which are not secret, are what the audit trail records.
    api_audit = [e for e in entries if e["action"] == "apikey.create"]
    assert {e["details"]["key_id"] for e in api_audit} >= {t.split("_")[1] for t in tokens[:3]}

    # Files: the key store 0700 / 0600; API keys as SHA-256 only.
    assert stat.S_IMODE(settings.keys_dir.stat().st_mode) == 0o700
    key_files = list(settings.keys_dir.iterdir())
    assert len(key_files) == len(stored) + 1
    for path in key_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    with sqlite3.connect(data_dir / "sealsvc.db") as db:
        stored_hashes = dict(db.execute("SELECT key_id, secret_sha256 FROM api_keys"))
    db.close()
    for token in tokens[:3]:
        _, key_id, secret = token.split("_", 2)
        assert stored_hashes[key_id] == hashlib.sha256(secret.encode()).hexdigest()


# --- path traversal --------------------------------------------------------------------------

TRAVERSALS = [
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "..%2F..%2Fetc%2Fpasswd",
    "/etc/passwd",
    "ABCDEF/../../x",
    "ABCDEFG\x00.pdf",
    "ABCDEFG\n",
    "..",
    "ZZ..\\..\\WINDOWS",
]


class _OpenedPaths:
    """Paths opened through ``open()`` (Python audit events) while recording."""

    def __init__(self) -> None:
        self.recording = False
        self.paths: list[tuple[str, str]] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if self.recording and event == "open" and isinstance(args[0], str | bytes | Path):
            self.paths.append((os.fsdecode(args[0]), str(args[1])))


_opened = _OpenedPaths()


def _licence_attempts(
    context: ServiceContext, template, code: str, bad: str
) -> list[Callable[[], object]]:
    """Every licence entry point that takes a number or a template name, given ``bad``."""
    return [
        lambda: check_number(bad),
        lambda: get_licence(context, bad),
        lambda: get_licence_pdf(context, bad),
        lambda: annul_licence(context, bad, "x", kind="revoked", actor=ACTOR),
        lambda: issue_licence(context, template, template.example, [code], actor=ACTOR, number=bad),
        lambda: load_template(bad.lower()),
        lambda: issue_licence(context, bad.lower(), {}, [code], actor=ACTOR),
    ]


def _assert_refused(response: httpx.Response, path: str) -> None:
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
    assert response.headers["content-type"] == PROBLEM_JSON, (path, response.text)
    assert "root:" not in response.text and "x-evil" not in response.headers


def test_path_traversal_is_refused_in_python_and_over_http(
    sqlite_seal_context: ServiceContext, tmp_path: Path
) -> None:
    context = sqlite_seal_context
    data_dir = context.settings.data_dir
    code = seals.issue(context, department=DEPT, kind="公章", actor=ACTOR).code
    template = load_template("business_licence")
    outside = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if data_dir not in p.parents}

    _opened.paths.clear()
    _opened.recording = True
    try:
        for bad in TRAVERSALS:
            for run in _licence_attempts(context, template, code, bad):
                with pytest.raises(InvalidInput):
                    run()
            with context.database.session(read_only=True) as session:
                with pytest.raises(InvalidInput):
                    licence_status(session, bad)
                with pytest.raises(NotFound):
                    seals.show(session, bad)
            with pytest.raises(NotFound):
                Sealer(context).seal(chinese_pdf(1), bad, SealOptions(), actor=ACTOR)
            for change in (seals.rotate, seals.suspend):
                with pytest.raises(NotFound):
                    change(context, bad, actor=ACTOR)
    finally:
        _opened.recording = False
    # A good number is accepted (the check is not refusing everything).
    assert check_number("ZZYYZZ20250101-1") == "ZZYYZZ20250101-1"
    assert [p for p, _ in _opened.paths if "passwd" in p or "WINDOWS" in p or ".." in p] == []
    writes = [(p, m) for p, m in _opened.paths if set(m) & set("wax+")]
    assert [p for p, _ in writes if not Path(p).resolve().is_relative_to(data_dir)] == []

    with context.database.session() as session:
        _, admin = apikeys.create_api_key(
            session, name="admin", scopes={"admin"}, department=None, actor=ACTOR
        )
    app = create_app(context.settings)
    auth = {"Authorization": f"Bearer {admin}", "Content-Type": "application/pdf"}
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get(f"/v1/seals/{code}").status_code == 200
        for raw in [
            "..%2F..%2Fetc%2Fpasswd",
            "..%252f..%252fetc%252fpasswd",
            "%2Fetc%2Fpasswd",
            "%00",
            "41010001000001%00",
            "..",
            "..%5C..%5Cetc%5Cpasswd",
            "ABCDEFG%0A",
            "ABCDEFG%0D%0AX-Evil:%201",
        ]:
            for method, path in (
                ("GET", f"/v1/seals/{raw}"),
                ("GET", f"/v1/seals/{raw}/image.png"),
                ("POST", f"/v1/seals/{raw}/sign"),
                ("GET", f"/pki/{raw}/root.crt"),
                ("GET", f"/pki/rsa/{raw}.crl"),
            ):
                response = client.request(method, path, content=chinese_pdf(1), headers=auth)
                _assert_refused(response, path)
            for method, path, body in (
                ("GET", f"/v1/licences/{raw}", None),
                ("GET", f"/v1/licences/{raw}/pdf", None),
                ("POST", f"/v1/licences/{raw}/annul", {"kind": "revoked", "reason": "x"}),
                ("POST", "/v1/licences", {"template": raw, "data": {}, "seals": [code]}),
            ):
                bearer = {"Authorization": f"Bearer {admin}"}
                response = client.request(method, path, json=body, headers=bearer)
                _assert_refused(response, path)
    app.state.context.close()
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if data_dir not in p.parents}
    assert after == outside  # nothing written or created outside the data directory
    assert not (data_dir.parent / "etc").exists()
