"""Run every benchmark once and write ``docs/benchmarks.md``.

    python bench/run_all.py [--quick] [--output docs/benchmarks.md] [--only pki seal …]

Each ``bench/*_bench.py`` script runs in its own subprocess (so one crash or hang costs one
section, not the report) with a per-script timeout and iteration counts reduced through
its own flags to keep the whole run to about ten minutes on two cores; ``--quick`` cuts
them further for a smoke test.  Each script's table is copied verbatim, with the goal
lines it printed; the report adds the machine (CPU model, ``nproc``, memory, load average
at the start and end — the benchmarks share the machine with whatever else runs), the
Python, OpenSSL and library versions, the date, and a one-line reading of every goal:
met, missed, or not measured.  Exit status 1 if a script failed or timed out.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

__all__ = ["BENCHES", "Bench", "main"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bench:
    """One benchmark script: its flags for the report run and for ``--quick``."""

    name: str
    script: str
    title: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    timeout: int
    compares: str
    """What the script puts our numbers next to, for the reader of the report."""


BENCHES: tuple[Bench, ...] = (
    Bench("pki", "pki_bench.py", "Signatures: pki.algorithms vs openssl speed",
          ("--seconds", "1", "--rounds", "7"), ("--seconds", "1", "--rounds", "1"), 400,
          "`openssl speed` (same machine, one core) and the bare backend call"),
    Bench("seal", "seal_bench.py", "PAdES sealing: seal_pdf vs bare pyHanko",
          ("--seconds", "1.0"), ("--seconds", "0.3"), 300,
          "bare pyHanko `PdfSigner.sign_pdf` with its defaults"),
    Bench("verify", "verify_bench.py", "Verification: verify vs pyHanko's validator",
          ("--seconds", "2"), ("--seconds", "0.5"), 300,
          "pyHanko's `validate_pdf_signature` with the same trust root"),
    Bench("verify-batch", "verify_batch_bench.py", "DocumentVerifier on 1,000 B-LTA licences",
          ("--count", "1000"), ("--count", "20"), 2400,
          "the same verifier with every later revision left to pyHanko's diff, same run"),
    Bench("licence", "licence_bench.py", "Licences issued end to end",
          ("--count", "20"), ("--count", "5"), 420,
          "itself: the share of each pipeline stage, one process vs a pool"),
    Bench("ofd", "ofd_bench.py", "Licence rendering: OFD vs PDF of the same licences",
          ("--count", "40"), ("--count", "5"), 300,
          "the PDF rendering (reportlab) of the same licences from the same layout"),
    Bench("ofd-verify", "ofd_verify_bench.py", "OFD verification vs PDF of the same licence",
          ("--seconds", "2"), ("--seconds", "0.5"), 300,
          "`DocumentVerifier.check` of the same licence as PDF (B-T, SM2), same run"),
    Bench("ofd-seal", "ofd_seal_bench.py", "OFD sealing: SES_Signature vs PAdES B-B",
          ("--seconds", "1.0"), ("--seconds", "0.3"), 300,
          "PAdES B-B (seal_pdf, Sealer.seal) of the same licence's PDF with the same seal"),
    Bench("api", "api_bench.py", "HTTP: sealctl serve vs in-process Sealer",
          ("--requests", "60", "--in-process", "30"), ("--requests", "16", "--in-process", "8"),
          600, "`Sealer.seal` in-process in 1 and N processes"),
    Bench("api-nodes", "api_bench.py", "HTTP: two nodes on one PostgreSQL vs one, and HAProxy",
          ("--nodes", "2", "--workers", "1", "--requests", "40", "--concurrency", "4"),
          ("--nodes", "2", "--workers", "1", "--requests", "8", "--concurrency", "2",
           "--licences", "2"),
          900, "node A alone, in the same run, on the same database"),
    Bench("audit", "audit_bench.py", "Audit chain on PostgreSQL: 1, 2, 4 writers",
          ("--seconds", "10"), ("--seconds", "2"), 600,
          "unchained inserts of the same rows (no shared lock), same server, same run"),
    Bench("ses", "ses_bench.py", "GB/T 38540 signatures: sign_ses vs bare SM2 sign",
          ("--seconds", "1"), ("--seconds", "0.3"), 120,
          "a bare SM2 signature (tongsuopy) of the same bytes, in the same run"),
    Bench("archive-check", "archive_check_bench.py", "四性检测: archive check vs verification",
          ("--count", "1000"), ("--count", "20", "--render-sample", "3"), 2400,
          "`DocumentVerifier.check` of the same 1,000 B-LTA licences, same run"),
    Bench("pdf-reading", "pdf_reading_bench.py", "PDF objects: the fast reader vs pyHanko's parser",
          ("--count", "60", "--rounds", "3"), ("--count", "6", "--rounds", "1"), 900,
          "pyHanko's own read_object, alternating licence by licence in the same run"),
    Bench("enterprise", "enterprise_bench.py", "1+X: 营业执照 with its seal set vs alone",
          ("--count", "5"), ("--count", "2"), 600,
          "the same 营业执照 issued without the set, in the same run"),
    Bench("memory", "memory_bench.py", "Peak memory: 100-page PDF and a decompression bomb",
          ("--pages", "100", "--level", "B-LT"), ("--pages", "20", "--level", "B-LT"), 600,
          "the child process's own baseline (interpreter, libraries, keys, input)"),
    Bench("cli", "cli_bench.py", "sealctl start-up: whole processes vs the libraries' floor",
          ("--runs", "5"), ("--runs", "1"), 600,
          "a bare interpreter importing only the libraries each command needs, same run"),
)  # fmt: skip


@dataclass
class Outcome:
    bench: Bench
    command: str
    seconds: float
    returncode: int | None
    """``None`` when the script was stopped at its timeout."""
    output: str


def _run(bench: Bench, quick: bool) -> Outcome:
    argv = [sys.executable, str(ROOT / "bench" / bench.script),
            *(bench.quick_args if quick else bench.args)]  # fmt: skip
    env = {**os.environ, "COLUMNS": "160", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    shown = "python " + " ".join(argv[1:]).replace(str(ROOT) + "/", "")
    print(f"→ {shown}", flush=True)
    start = time.monotonic()
    try:
        done = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=bench.timeout
        )
        code, output = (
            done.returncode,
            done.stdout
            + (f"\n[stderr]\n{done.stderr[-3000:]}" if done.returncode not in (0, 1) else ""),
        )
    except subprocess.TimeoutExpired as exc:
        code = None
        partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        output = partial + f"\n[stopped after the {bench.timeout} s timeout]"
    seconds = time.monotonic() - start
    print(f"  {'timeout' if code is None else f'exit {code}'} after {seconds:.0f} s", flush=True)
    return Outcome(bench, shown, seconds, code, output.rstrip())


# --- the machine -----------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _openssl_cli() -> str:
    try:
        return subprocess.run(
            ["openssl", "version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not installed"


def _versions() -> str:
    names = ("cryptography", "tongsuopy", "asn1crypto", "pyHanko", "pyhanko-certvalidator",
             "fastapi", "uvicorn", "reportlab", "pdfminer.six")  # fmt: skip
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


# --- reading the tables -----------------------------------------------------------------------


_TABLE_CHARS = "┏┃┡│└━┳╇┻┓┩┛"


def _after_tables(output: str) -> str:
    """The text a script printed after its (last) table, joined into one paragraph."""
    lines = output.splitlines()
    last = max((i for i, line in enumerate(lines) if line[:1] in _TABLE_CHARS), default=-1)
    return " ".join(line.strip() for line in lines[last + 1 :] if line.strip())


def _reading(outcome: Outcome) -> str:
    """One line: goals met or missed, from the table's goal column and the closing lines."""
    if outcome.returncode is None:
        return f"not measured: the script did not finish within {outcome.bench.timeout} s."
    if outcome.returncode not in (0, 1):
        return f"not measured: the script failed (exit {outcome.returncode}); see its output."
    if outcome.bench.name == "memory":
        return _memory_reading(outcome.output)
    rows = [line for line in outcome.output.splitlines() if line.startswith("│")]
    met = sum(bool(re.search(r"│\s*ok\b", line)) for line in rows)
    missed = sum("MISSED" in line for line in rows)
    parts = []
    if met or missed:
        state = "met" if not missed else "MISSED"
        parts.append(f"goal column: {met} row(s) ok, {missed} MISSED ({state})")
    tail = _after_tables(outcome.output)
    if re.search(r"goal|below \d+%", tail):
        parts.append(tail)
    elif outcome.bench.name == "pki":
        parts.append("every rate ≥ 90 % of the bare library call (met)")
    return "; ".join(parts) + "." if parts else "no goal stated; numbers for reference."


def _memory_reading(output: str) -> str:
    """Peak RSS of sealing the big PDF and the worst of the hostile files, from the table."""
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if line.startswith("│")
    ]
    # family, operation, input KiB, imports MiB, baseline MiB, peak MiB, growth MiB, s, outcome
    numeric = [row for row in rows if len(row) >= 9 and re.fullmatch(r"[\d.]+", row[5])]
    peaks = [(row[1], float(row[5]), float(row[6])) for row in numeric]
    seal = [(peak, growth) for operation, peak, growth in peaks if operation == "seal"]
    bombs = [peak for operation, peak, _ in peaks if "bomb" in operation]
    parts = []
    if seal:
        peak, growth = max(seal)
        parts.append(f"sealing the big PDF peaks at {peak:.0f} MiB RSS (+{growth:.0f} MiB)")
    if bombs:
        parts.append(f"no hostile file takes a process above {max(bombs):.0f} MiB (bounded)")
    return "; ".join(parts) + "." if parts else "no rows could be read; see the table."


# --- the report -------------------------------------------------------------------------------


def render(outcomes: list[Outcome], started: datetime, load_start: str, load_end: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python bench/run_all.py` — do not edit by hand; re-run it instead.",
        "Every script ran once, in its own process, one after another, with the reduced",
        "iteration counts shown; each table below is that script's output, verbatim.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| date (UTC) | {started:%Y-%m-%d %H:%M} |",
        f"| CPU | {_cpu_model()} |",
        f"| nproc | {os.cpu_count()} |",
        f"| memory | {_memory()} |",
        f"| load average (1/5/15 min) at start | {load_start} |",
        f"| load average (1/5/15 min) at end | {load_end} |",
        f"| kernel | {platform.system()} {platform.release()} |",
        f"| Python | {platform.python_version()} ({platform.python_implementation()}) |",
        f"| OpenSSL (Python `ssl`) | {ssl.OPENSSL_VERSION} |",
        f"| OpenSSL (CLI, for `openssl speed`) | {_openssl_cli()} |",
        f"| libraries | {_versions()} |",
        "",
        "A load average near or above the number of cores means other work shared the",
        "machine during the run: wall-clock rates are then low, ratios measured side by side",
        "(ours vs openssl, seal_pdf vs bare pyHanko, HTTP vs in-process) much less so.",
        "",
        "## Summary",
        "",
        "| benchmark | compared with | run time | reading |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| [{o.bench.title}](#{o.bench.name}) | {o.bench.compares} | "
            f"{o.seconds:.0f} s | {_reading(o)} |"
        )
    for o in outcomes:
        lines += [
            "",
            f'<a id="{o.bench.name}"></a>',
            f"## {o.bench.title}",
            "",
            f"`{o.command}` — {o.seconds:.0f} s, "
            + ("timed out" if o.returncode is None else f"exit {o.returncode}"),
            "",
            "```text",
            o.output or "(no output)",
            "```",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest counts (smoke test)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES])
    args = parser.parse_args(argv)
    started, load_start = datetime.now(UTC), _load()
    outcomes = [_run(b, args.quick) for b in BENCHES if not args.only or b.name in args.only]
    report = render(outcomes, started, load_start, _load())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_suffix(".tmp")
    temporary.write_text(report, encoding="utf-8")
    temporary.replace(args.output)
    print(f"wrote {args.output}")
    return 0 if all(o.returncode in (0, 1) for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
