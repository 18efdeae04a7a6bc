"""``gatepack report PACKET... --html FILE | --markdown FILE``: a reviewer report to attach to a gate review.

Each packet is verified on the way in (digest, and the signature with ``--key``/``--trusted-keys``, as
``gatepack verify`` does) and the report states the result beside the numbers: a tampered packet is
still shown, marked, and the command exits 1 so a pipeline does not attach it silently. The files are
written atomically and an existing file is never replaced unless ``--force`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli.common import err
from collector.cli.verify import MAX_PACKET_BYTES
from collector.cli.verify import _read as read_bounded
from collector.errors import EXIT_FAIL, UsageError

if TYPE_CHECKING:
    from collector.report.review import ReviewItem


def _items(packets: list[Path], key: Path | None, trusted: Path | None, max_bytes: int) -> list[ReviewItem]:
    from collector.report.review import ReviewItem
    from collector.signing import envelope_path, trusted_keys
    from slo.dsse import verify_file_bytes

    keys = trusted_keys(key, trusted)
    file_limit = max_bytes * 4 // 3 + 4096  # a signed envelope carries the packet in base64
    items = []
    for path in packets:
        data = read_bounded(path, file_limit)
        sibling = envelope_path(path)
        detached = read_bounded(sibling, file_limit) if sibling != path and sibling.is_file() else None
        verification = verify_file_bytes(data, keys, detached, max_bytes)
        if verification.packet is None:
            raise UsageError(f"{path}: not an evidence packet ({verification.digest.reason})")
        items.append(ReviewItem(path.name, verification.packet, verification))
    return items


def _write(path: Path, data: bytes, force: bool) -> None:
    """Atomically; an existing file with other bytes is kept unless ``force`` (same bytes: nothing to do)."""
    from collector.sinks.files import write_atomic, write_new

    if force:
        write_atomic(path, data)
        return
    try:
        write_new(path, data)
    except FileExistsError:
        raise UsageError(f"{path} already exists: pass --force to replace it") from None


def report_command(
    packets: Annotated[list[Path], typer.Argument(help="Evidence packets or signed envelopes", metavar="PACKET...")],
    html: Annotated[
        Path | None, typer.Option("--html", metavar="FILE", help="Write a self-contained HTML report")
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option("--markdown", metavar="FILE", help="Write a Markdown report; charts go to FILE-charts/ beside it"),
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Public key (PEM) the signature must verify under")] = None,
    trusted: Annotated[
        Path | None, typer.Option("--trusted-keys", help="Directory of trusted public keys (*.pub, *.pem)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace report files that already exist")] = False,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", min=1, help="Refuse packets larger than this many bytes")
    ] = MAX_PACKET_BYTES,
) -> None:
    """Write a reviewer report (verdicts, provenance, signature status, charts) of one or more packets."""
    if html is None and markdown is None:
        raise UsageError("give --html FILE and/or --markdown FILE")
    items = _items(packets, key, trusted, max_bytes)
    if html is not None:
        from collector.report.html import html_report

        _write(html, html_report(items).encode("utf-8"), force)
        err.print(f"report written: {html}")
    if markdown is not None:
        from collector.report.review_markdown import markdown_report

        charts_dir = markdown.with_name(f"{markdown.stem}-charts")
        document = markdown_report(items, charts_dir.name)
        for name, svg in document.charts:  # the charts first: the report never links a file that is not there
            _write(charts_dir / name, svg.encode("utf-8"), force)
        _write(markdown, document.text.encode("utf-8"), force)
        err.print(f"report written: {markdown}" + (f" (charts in {charts_dir}/)" if document.charts else ""))
    failed = [item.name for item in items if not item.ok]
    if failed:
        err.print(f"FAILED: verification failed for {', '.join(failed)} (marked in the report)", style="bold red")
        raise typer.Exit(EXIT_FAIL)
