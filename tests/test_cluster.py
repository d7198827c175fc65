"""Two nodes, one PostgreSQL, nothing shared on disk: the service as a cluster (issue 19 §2).

:func:`cluster_helpers.running_cluster` starts a real PostgreSQL database, two ``sealctl
serve`` processes with separate, empty data directories and ports (passphrase from a
file) and HAProxy with ``docs/deploy/haproxy.cfg`` in front.  Each test crosses nodes:

* a document sealed on node A verifies on node B (and with pyHanko's validator, trusting
  only the root B publishes); a licence issued on B downloads byte for byte from A;
* an officer's ``sealctl`` on a third data directory rotates, then revokes, a seal while
  both nodes seal with it: the next request on each node uses the new key, then is
  refused, and ``openssl ocsp`` asked at either node says "revoked";
* the proxy keeps answering while a node is ``kill -9``'d and brings it back when it
  returns;
* ``kill -9`` node A in the middle of a load run: node B answers every request, every
  acknowledged seal and licence is in the database and verifies on B, and the audit chain
  verifies.

Loops are bounded; everything listens on loopback only.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asn1crypto import x509
from helpers.cluster_helpers import CLIENT_ADDRESS, Cluster, HaProxy, running_cluster
from helpers.pdf_fixtures import chinese_pdf
from helpers.reliability_helpers import (
    RsaTrust,
    pdfsig_valid_signatures,
    signer_serial,
    validate_rsa_seal,
)
from helpers.server import ServerProcess
from pyhanko.pdf_utils.reader import PdfFileReader

from sealsvc.licences import load_template

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MARKET = "ZZ-D26"  # 郑州市市场监督管理局: its 公章 may seal a 营业执照
PDF_HEADERS = {"Content-Type": "application/pdf"}
REFUSED = (403, 409, 410, 422)
"""Statuses a request to seal with a revoked seal may get (a problem, never a 5xx)."""


@pytest.fixture(scope="module")
def cluster(postgres_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists():
        reason = "haproxy is not installed (scripts/bootstrap.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("cluster")
    with running_cluster(postgres_server, root, f"sealsvc_cluster_{os.getpid()}") as running:
        yield running


def _sign(
    client: httpx.Client, code: str, level: str = "B-T", headers: dict[str, str] | None = None
) -> httpx.Response:
    return client.post(
        f"/v1/seals/{code}/sign", content=chinese_pdf(1), params={"level": level},
        headers={**PDF_HEADERS, **(headers or {})},
    )  # fmt: skip


def _verify(client: httpx.Client, document: bytes) -> dict:
    answer = client.post("/v1/verify", content=document, headers=PDF_HEADERS)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _licence_body(code: str) -> dict:
    return {
        "template": "business_licence",
        "data": load_template("business_licence").example,
        "seals": [code],
        "level": "B-T",
    }


def _rsa_trust_from(client: httpx.Client) -> RsaTrust:
    """The RSA root and issuing CA certificates as ``client``'s node publishes them."""
    root, issuing = (
        x509.Certificate.load(client.get(f"/pki/rsa/{name}.crt").content)
        for name in ("root", "issuing")
    )
    return RsaTrust(root, issuing, ())


def _sealctl_json(cluster: Cluster, *args: str) -> dict | list:
    done = cluster.sealctl(*args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


# --- across nodes ---------------------------------------------------------------------------


def _shared_files_on_disk(node: ServerProcess) -> list[str]:
    """Key and licence files in a node's data directory: none may be there.  (``ca/``, the
    PEM export of node A's first start, is a copy for operators: node B has none and
    verifies all the same.)"""
    shared = ("*.key", "keystore.json", "*.pdf", "*.ofd")
    return sorted(
        str(path.relative_to(node.data_dir))
        for pattern in shared
        for path in node.data_dir.rglob(pattern)
    )


def test_both_nodes_serve_the_seals_of_node_a_s_first_start(cluster: Cluster) -> None:
    for node in cluster.nodes:
        with cluster.client(node) as client:
            assert client.get("/readyz").json() == {"status": "ready"}
            listed = {s["code"] for s in client.get("/v1/seals").json()}
            assert listed >= {s.code for s in cluster.a.demo_seals}


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_sealed_on_a_verifies_on_b(cluster: Cluster, algorithm: str) -> None:
    code = cluster.a.demo_seal(MARKET, algorithm).code
    with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
        sealed = _sign(a, code, "B-LT")
        assert sealed.status_code == 200, sealed.text
        report = _verify(b, sealed.content)
        assert report["verdict"] == "TOTAL_PASSED", report
        assert report["document_sha256"] == sealed.headers["X-Document-SHA256"]
        if algorithm == "rsa":  # pyHanko's validator, trusting only the root B publishes
            assert validate_rsa_seal(sealed.content, _rsa_trust_from(b)) is None
        else:
            (signature,) = PdfFileReader(io.BytesIO(sealed.content)).embedded_signatures
            assert signature.signer_info["signature_algorithm"]["algorithm"].native == "sm2_sm3"


def test_licence_issued_on_b_downloads_from_a(cluster: Cluster, tmp_path: Path) -> None:
    code = cluster.a.demo_seal(MARKET, "rsa").code
    with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
        issued = b.post("/v1/licences", json=_licence_body(code))
        assert issued.status_code == 201, issued.text
        record = issued.json()
        assert record["download_url"].startswith(cluster.proxy.url)  # the one public URL
        fetched = a.get(f"/v1/licences/{record['number']}/pdf")
        assert fetched.status_code == 200, fetched.text
        assert hashlib.sha256(fetched.content).hexdigest() == record["document_sha256"]
        report = _verify(a, fetched.content)
        assert report["verdict"] == "TOTAL_PASSED", report
        assert report["licence"]["number"] == record["number"]
    assert pdfsig_valid_signatures(fetched.content, tmp_path / "licence.pdf") == 1
    for node in cluster.nodes:  # nothing that must be shared lives on a node's disk
        assert _shared_files_on_disk(node) == [], node.data_dir


def test_a_node_with_a_wrong_passphrase_is_never_ready(cluster: Cluster) -> None:
    """A node whose secret store handed it the wrong passphrase cannot open the shared key
    store: it stays alive but not ready, so the proxy's health check keeps it out; and
    the passphrase it was given shows nowhere in its output."""
    wrong = cluster.root / "wrong-passphrase"
    wrong.write_text("not the cluster's passphrase\n")
    wrong.chmod(0o600)
    node = ServerProcess(
        cluster.root / "node-c" / "data",
        database_url=cluster.database_url,
        passphrase_file=wrong,
        base_url=cluster.proxy.url,
        bootstrap=False,
    )
    try:
        node.start()
        answer = httpx.get(f"{node.url}/readyz", timeout=30)
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        code = cluster.a.demo_seal(MARKET, "rsa").code
        with cluster.client(node) as client:
            refused = _sign(client, code, "B-B")
        assert refused.status_code >= 500 and "Traceback" not in refused.text, refused.text
    finally:
        node.stop()
    output = "".join(log.read_text() for log in node.data_dir.parent.glob("serve-*.log"))
    assert "not the cluster's passphrase" not in output


# --- an officer's sealctl on a third machine, while both nodes seal ---------------------------


@dataclass
class _Answer:
    node: str
    started: float
    status: int
    serial: int | None
    """Serial of the signing certificate of a sealed (200) document."""


class _SealingLoad:
    """One thread per node sealing with ``code`` (B-B) until stopped: at most ``limit``
    requests or ``seconds`` each (whichever ends first)."""

    def __init__(
        self, cluster: Cluster, code: str, limit: int = 3000, seconds: float = 300
    ) -> None:
        self.answers: list[_Answer] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(cluster, node, name, code, limit, seconds))
            for node, name in ((cluster.a, "a"), (cluster.b, "b"))
        ]

    def _run(
        self,
        cluster: Cluster,
        node: ServerProcess,
        name: str,
        code: str,
        limit: int,
        seconds: float,
    ) -> None:
        deadline = time.monotonic() + seconds
        with cluster.client(node) as client:
            for _ in range(limit):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                started = time.monotonic()
                response = _sign(client, code, "B-B")
                serial = signer_serial(response.content) if response.status_code == 200 else None
                with self._lock:
                    self.answers.append(_Answer(name, started, response.status_code, serial))

    def __enter__(self) -> _SealingLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=300)

    def wait_until(self, since: float, each: int = 1, timeout: float = 120) -> None:
        """Until each node has ``each`` answers to requests started after ``since``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                counts = [
                    sum(1 for a in self.answers if a.node == n and a.started > since) for n in "ab"
                ]
            if min(counts) >= each:
                return
            time.sleep(0.05)
        raise AssertionError(f"the load did not reach {each} answers per node: {counts}")

    def after(self, since: float) -> list[_Answer]:
        with self._lock:
            return [a for a in self.answers if a.started > since]


def _openssl_ocsp(node_url: str, seal_pem: Path, pems: Path) -> str:
    result = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(pems / "issuing.pem"), "-cert", str(seal_pem),
         "-url", f"{node_url}/pki/rsa/ocsp", "-CAfile", str(pems / "root.pem")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return result.stdout + result.stderr


def _pems(client: httpx.Client, directory: Path) -> Path:
    for name in ("root", "issuing"):
        der = client.get(f"/pki/rsa/{name}.crt").content
        pem = x509.Certificate.load(der)
        (directory / f"{name}.pem").write_bytes(_pem(pem.dump()))
    return directory


def _pem(der: bytes) -> bytes:
    from asn1crypto import pem

    return pem.armor("CERTIFICATE", der)


def test_rotate_then_revoke_from_a_third_machine_under_load(
    cluster: Cluster, tmp_path: Path
) -> None:
    issued = _sealctl_json(
        cluster, "seal", "issue", "--dept", "ZZ-FTZ", "--kind", "行政审批专用章", "--alg", "rsa"
    )
    code = issued["code"]
    old_serial = int(issued["current_serial"])
    with _SealingLoad(cluster, code) as load:
        load.wait_until(since=0, each=2)
        rotate_started = time.monotonic()
        rotated = _sealctl_json(cluster, "seal", "rotate", code)
        rotated_at = time.monotonic()
        new_serial = int(rotated["current_serial"])
        assert new_serial != old_serial
        load.wait_until(since=rotated_at, each=2)
        revoke_started = time.monotonic()
        revoked = _sealctl_json(cluster, "seal", "revoke", code, "--reason", "key_compromise")
        revoked_at = time.monotonic()
        assert revoked["status"] == "revoked"
        load.wait_until(since=revoked_at, each=2)
    # every answer: before the rotation the old key, after it the new one, after the
    # revocation a refusal — on both nodes, from the first request started after each step
    for answer in load.answers:
        if answer.started < rotate_started:
            assert (answer.status, answer.serial) == (200, old_serial), answer
        elif rotated_at < answer.started < revoke_started:
            assert (answer.status, answer.serial) == (200, new_serial), answer
        elif answer.started > revoked_at:
            assert answer.status in REFUSED, answer
    assert {a.node for a in load.after(revoked_at)} == {"a", "b"}
    refusals = _sealctl_json(cluster, "audit", "show", "--seal", code, "--action", "seal.refused")
    assert len(refusals) >= len(load.after(revoked_at))
    # the OCSP responder of each node, asked by openssl: revoked (keyCompromise)
    with cluster.client(cluster.b) as b:
        pems = _pems(b, tmp_path)
        chain = b.get(f"/v1/seals/{code}").json()["chain_pem"]
    seal_pem = tmp_path / "seal.pem"
    seal_pem.write_text(chain[0])
    for node in cluster.nodes:
        answer = _openssl_ocsp(node.url, seal_pem, pems)
        assert "Response verify OK" in answer and f"{seal_pem}: revoked" in answer, answer
        assert "Reason: keyCompromise" in answer, answer


# --- the proxy ------------------------------------------------------------------------------


def _proxy_sessions(proxy: HaProxy) -> dict[str, int]:
    """Requests each node has been sent by the proxy so far (stats ``stot``)."""
    import csv

    text = httpx.get(f"http://127.0.0.1:{proxy.stats_port}/stats;csv", timeout=5).text
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {r["svname"]: int(r["stot"]) for r in rows if r["svname"] in ("node1", "node2")}


def test_proxy_keeps_answering_when_a_node_is_killed(cluster: Cluster) -> None:
    code = cluster.a.demo_seal(MARKET, "rsa").code
    before = _proxy_sessions(cluster.proxy)
    with cluster.client(cluster.proxy) as proxied:
        statuses = [_sign(proxied, code, "B-B").status_code for _ in range(6)]
        assert statuses == [200] * 6
        spread = _proxy_sessions(cluster.proxy)
        assert all(spread[n] > before[n] for n in ("node1", "node2")), (before, spread)

        cluster.b.kill9()  # before the health checks notice: refused connections, redispatched
        statuses = [_sign(proxied, code, "B-B").status_code for _ in range(4)]
        assert statuses == [200] * 4
        cluster.proxy.wait_for({"node1": "UP", "node2": "DOWN"})
        report = _verify(proxied, _sign(proxied, code, "B-T").content)
        assert report["verdict"] == "TOTAL_PASSED"

        cluster.b.start()  # back on its own data directory
        cluster.proxy.wait_for({"node1": "UP", "node2": "UP"})
        returned = _proxy_sessions(cluster.proxy)["node2"]
        statuses = [_sign(proxied, code, "B-B").status_code for _ in range(6)]
        assert statuses == [200] * 6
        assert _proxy_sessions(cluster.proxy)["node2"] > returned


def test_audit_names_the_client_behind_the_proxy_never_a_forged_one(cluster: Cluster) -> None:
    """The nodes believe X-Forwarded-For from the proxy's address only: through HAProxy
    the audit log names the client; a client's own X-Forwarded-For is never taken."""
    code = cluster.a.demo_seal(MARKET, "rsa").code
    forged = {"X-Forwarded-For": "203.0.113.9"}
    with cluster.client(cluster.proxy) as proxied, cluster.client(cluster.a) as direct:
        answers = [_sign(proxied, code, "B-B"), _sign(proxied, code, "B-B", forged)]
        answers.append(_sign(direct, code, "B-B", forged))
    assert [a.status_code for a in answers] == [200] * 3
    logged = {
        e["seq"]: e["details"].get("client")
        for e in _sealctl_json(cluster, "audit", "show", "--seal", code, "--action", "seal.use")
    }
    assert [logged[int(a.headers["X-Audit-Seq"])] for a in answers] == [CLIENT_ADDRESS] * 3


# --- kill -9 a node under load ----------------------------------------------------------------


@dataclass
class _Acknowledged:
    node: str
    kind: str
    """``seal`` (the sealed PDF came back) or ``licence`` (its record came back)."""
    body: bytes
    headers: dict[str, str]


def _work(cluster: Cluster, node: ServerProcess, name: str, requests: int, out: list) -> None:
    """Alternately seal (B-T) and issue a licence on ``node``; stop at the first transport
    error (the node is gone).  Every 2xx is recorded: it is what a client was promised."""
    code = cluster.a.demo_seal(MARKET, "rsa").code
    with cluster.client(node) as client:
        for i in range(requests):
            try:
                if i % 2:
                    answer = client.post("/v1/licences", json=_licence_body(code))
                else:
                    answer = _sign(client, code, "B-T")
            except httpx.TransportError as exc:
                out.append((name, "transport", type(exc).__name__))
                return
            if answer.is_success:
                kind = "licence" if i % 2 else "seal"
                out.append(_Acknowledged(name, kind, answer.content, dict(answer.headers)))
            else:
                out.append((name, answer.status_code, answer.text[:200]))


def test_kill_9_node_a_under_load(cluster: Cluster, tmp_path: Path) -> None:
    outcomes: list = []
    threads = [
        threading.Thread(target=_work, args=(cluster, node, name, 12, outcomes))
        for node, name in ((cluster.a, "a"), (cluster.b, "b"))
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 300
    while sum(1 for o in outcomes if isinstance(o, _Acknowledged) and o.node == "a") < 3:
        assert time.monotonic() < deadline, outcomes
        time.sleep(0.01)
    cluster.a.kill9()  # mid-run: node A has requests in flight
    for thread in threads:
        thread.join(timeout=600)
    acknowledged = [o for o in outcomes if isinstance(o, _Acknowledged)]
    failures = [o for o in outcomes if not isinstance(o, _Acknowledged)]
    from_b = [o for o in acknowledged if o.node == "b"]
    assert len(from_b) == 12, f"node B did not answer every request: {failures}"
    assert all(f[0] == "a" and f[1] == "transport" for f in failures), failures
    print(f"\nkill -9 node A: {len(acknowledged)} acknowledged ({len(from_b)} by B), {failures}")

    audited = {
        e["seq"]: e
        for e in _sealctl_json(
            cluster, "audit", "show", "--action", "seal.use", "--limit", "100000"
        )
    }
    with cluster.client(cluster.b) as b:
        for ack in acknowledged:
            if ack.kind == "seal":
                digest = hashlib.sha256(ack.body).hexdigest()
                assert digest == ack.headers["x-document-sha256"]
                entry = audited.get(int(ack.headers["x-audit-seq"]))
                assert entry is not None and entry["document_hash"] == digest, ack.node
                document = ack.body
            else:
                record = json.loads(ack.body)
                fetched = b.get(f"/v1/licences/{record['number']}/pdf")
                assert fetched.status_code == 200, (ack.node, fetched.text)
                assert hashlib.sha256(fetched.content).hexdigest() == record["document_sha256"]
                document = fetched.content
            report = _verify(b, document)
            assert report["verdict"] == "TOTAL_PASSED", (ack.node, ack.kind, report)
    chain = _sealctl_json(cluster, "audit", "verify")
    assert chain["intact"], chain
    cluster.a.start()  # node A again, on its own data directory
    cluster.proxy.wait_for({"node1": "UP", "node2": "UP"})
