"""File I/O with the guarantees evidence needs: atomic writes, never-overwritten packets, content hashes."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part.

    The bytes go to a temporary file in the same directory, are flushed to disk, and the file is
    renamed over the target (atomic on POSIX and Windows for the same filesystem).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # here, not at the top: with hashlib, ~20 ms of every command's start-up

    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp makes 0600; evidence is meant to be shared
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


class Placement(StrEnum):
    WRITTEN = "written"  # the file did not exist: it holds these bytes now
    UNCHANGED = "unchanged"  # a file with exactly these bytes was already there: nothing was written
    RENAMED = "renamed"  # the wanted name held other bytes: these went under the next free name


@dataclass(frozen=True)
class Placed:
    """Where :func:`write_new` put the bytes, and why there."""

    path: Path
    wanted: Path
    placement: Placement

    def describe(self, what: str = "evidence") -> str:
        """One line for stderr: the run says what happened to every file it meant to write."""
        if self.placement is Placement.UNCHANGED:
            return f"{what} unchanged: {self.path} already holds this packet (same digest), nothing written"
        if self.placement is Placement.RENAMED:
            return f"{what} written: {self.path} ({self.wanted.name} holds a different packet and was kept)"
        return f"{what} written: {self.path}"


_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}


class NewFile:
    """A file being written that will take a name no other file has: :func:`write_new`, fed piece by piece.

    The bytes go to a temporary file beside the target as they come (``write``); :meth:`place` makes it
    durable and gives it the first free name. Used as a context manager, the temporary file is removed
    whatever happens. A sealed packet is streamed through one of these (:func:`slo.evidence.seal_into`),
    so a 1000-check packet never exists as one ``bytes`` in memory.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # here, not at the top: with hashlib, ~20 ms of every command's start-up

        self.path = path
        fd, self._temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp makes 0600; evidence is meant to be shared
            self._handle = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self._remove()
            raise

    def write(self, data: bytes) -> None:
        self._handle.write(data)

    def place(self, fallbacks: Iterable[Path] = ()) -> Placed:
        """Name the bytes ``path``, or the first of ``fallbacks`` that is free; never replaces a file.

        A name that already holds exactly these bytes is the same evidence: nothing is written there.
        """
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        candidates = [self.path, *fallbacks]
        for candidate in candidates:
            if _place(self._temp_name, candidate):
                _fsync_dir(candidate.parent)
                return Placed(candidate, self.path, Placement.WRITTEN if candidate == self.path else Placement.RENAMED)
            if _same_files(candidate, self._temp_name):
                return Placed(candidate, self.path, Placement.UNCHANGED)
        raise FileExistsError(errno.EEXIST, "every candidate name holds a different file", str(candidates[-1]))

    def _remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temp_name)

    def __enter__(self) -> NewFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()
        self._remove()


def write_new(path: Path, data: bytes, fallbacks: Iterable[Path] = ()) -> Placed:
    """Write ``data`` under ``path`` or, when that holds other bytes, the first free name of ``fallbacks``.

    Never replaces an existing file, even when another process writes the same name at the same moment:
    the bytes go to a complete, fsync'ed temporary file that is then hard-linked to the name, and
    ``link`` fails if the name exists (an atomic no-clobber, unlike check-then-rename). Readers see no
    file or the whole file. An existing file with identical bytes is the same evidence: a no-op.
    Filesystems without hard links fall back to ``O_CREAT | O_EXCL`` (still no clobber).
    """
    with NewFile(path) as new:
        new.write(data)
        return new.place(fallbacks)


def _place(temp_name: str, target: Path) -> bool:
    """Give ``target`` the temp file's bytes unless ``target`` exists; True when this call created it."""
    try:
        os.link(temp_name, target)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle, open(temp_name, "rb") as source:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return True


_CHUNK = 1 << 20


def _same_files(path: Path, other: str) -> bool:
    """Whether ``path`` holds exactly the bytes of ``other``, compared a chunk at a time."""
    try:
        if path.stat().st_size != os.stat(other).st_size:
            return False
        with path.open("rb") as mine, open(other, "rb") as theirs:
            while True:
                a, b = mine.read(_CHUNK), theirs.read(_CHUNK)
                if a != b:
                    return False
                if not a:
                    return True
    except OSError:
        return False


def _fsync_dir(directory: Path) -> None:
    """Make the new name itself durable (the file's bytes were fsync'ed before it got the name)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sha256_file(path: Path) -> tuple[str, int]:
    """sha256 hex digest and size of a file, read in chunks."""
    import hashlib

    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
