"""``sealctl archive check PATH|NUMBER…``: the 四性检测 of DA/T 70-2018 for a batch of records.

Each argument is a file (PDF or OFD, told by content) or a licence number of the registry
(its stored file is checked).  Prints a table per record — every check of 真实性, 完整性,
可用性, 安全性 with its outcome and reason — and a summary of the batch, with a progress
bar on stderr while a batch runs; ``--json`` prints the report (schema
``sealsvc.archive-check/1``).  Exit code 0 only when every record passes all four.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sealsvc.archival_check.report import BatchReport, Outcome, Property, RecordReport
from sealsvc.archival_check.runner import ArchiveChecker, Item
from sealsvc.cli.common import JsonOption, console, emit_json, err_console, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.gc_pacing import settle

__all__ = ["check"]

_OUTCOME = {
    Outcome.PASS: "[green]通过[/]",
    Outcome.FAIL: "[bold red]不通过[/]",
    Outcome.NOT_APPLICABLE: "[dim]不适用[/]",
}


def check(
    ctx: typer.Context,
    records: Annotated[
        list[str],
        typer.Argument(help="Files (PDF/OFD) or licence numbers.", metavar="PATH|NUMBER..."),
    ],
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Processes checking in parallel.")
    ] = 1,
    render: Annotated[
        bool,
        typer.Option(
            "--render",
            help="Also paint page 1 (pdftoppm / OFD raster); by default every page's "
            "content and resources are parsed, which is much faster.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Check records for authenticity, integrity, usability and security (四性检测, DA/T 70).

    A batch never stops at a bad record: it fails with the reason and the batch goes on.
    Licences of one issuer and day in the batch must have no gap in the registry's serial.

    Examples: [cyan]sealctl archive check licence.pdf licence.ofd[/] ·
    [cyan]sealctl archive check --workers 2 --json archive/*.pdf > report.json[/] ·
    [cyan]sealctl archive check YYZZ2026120406792683[/]
    """
    with user_errors():
        if not records:
            raise InvalidInput("name at least one file or licence number")
        items = [Item.parse(argument) for argument in records]
        checker = ArchiveChecker(ServiceContext(settings(ctx)), render=render)
        if len(items) > 1:
            settle()  # a batch: start-up's heap is left out of every collection
            with _progress() as bar:
                task = bar.add_task("四性检测", total=len(items))
                report = checker.check(
                    items,
                    workers=workers,
                    progress=lambda done, _: bar.update(task, completed=done),
                )
        else:
            report = checker.check(items)
    if json_output:
        emit_json(report.to_dict())
    else:
        for record in report.records:
            _print_record(record)
        _print_summary(report)
    raise typer.Exit(0 if report.passed else 1)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _print_record(record: RecordReport) -> None:
    verdict = "[green]通过[/]" if record.passed else "[bold red]不通过[/]"
    number = f"，证照 {record.licence_number}" if record.licence_number else ""
    table = Table(
        title=f"{record.source}（{record.format.upper()}{number}）：{verdict}",
        title_justify="left",
        show_lines=False,
    )
    for column in ("性质", "检查项", "结果", "说明"):
        table.add_column(column, overflow="fold")
    for prop in record.properties:
        for index, item in enumerate(prop.checks):
            table.add_row(
                prop.property.chinese if index == 0 else "",
                item.name,
                _OUTCOME[item.outcome],
                item.reason,
            )
        table.add_section()
    console.print(table)


def _print_summary(report: BatchReport) -> None:
    total = len(report.records)
    passed = sum(r.passed for r in report.records)
    failed = report.failed_by_property()
    table = Table(title="四性检测汇总", title_justify="left")
    for column in ("记录", "通过", "不通过", *(p.chinese + "不通过" for p in Property)):
        table.add_column(column, justify="right")
    table.add_row(str(total), str(passed), str(total - passed), *(str(failed[p]) for p in Property))
    console.print(table)
    for gap in report.serial_gaps:
        console.print(f"[bold red]缺号[/] {gap}", highlight=False)
    if report.passed:
        console.print(f"[bold green]全部 {total} 份记录通过四性检测。[/]")
    else:
        console.print(f"[bold red]{total - passed} 份记录未通过四性检测。[/]")
