"""The fraction-done bar while ``ingest`` reads result files: bytes read of the total, rate and time left.

A 2 GB k6 NDJSON file takes seconds; a spinner says only that something runs, the bar says how long it
will. The readers report the bytes they have consumed through a callback (the k6 NDJSON reader from its
worker processes, once per 16 MiB block; the others once, when a file is read), so the bar costs the
reading nothing measurable. Off a terminal (stdout or stderr piped) or with ``--quiet`` there is no bar:
CI logs stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console


def wants_bar(quiet: bool) -> bool:
    """A bar only for a person at a terminal: both streams a terminal, and not ``--quiet``."""
    return not quiet and sys.stderr.isatty() and sys.stdout.isatty()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the reader names the problem


@contextmanager
def reading_bar(console: Console, files: list[Path], enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """Yields the progress callback (bytes of all ``files`` consumed so far), or None when disabled."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    names = ", ".join(path.name for path in files)
    progress = Progress(
        TextColumn("reading {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task(names, total=sum(_size(path) for path in files) or None)
    with progress:
        yield lambda done: progress.update(task, completed=done)
