"""The append-only hit log: segment files written with group commit.

Each process writes its own segment, ``<start>-<host>-<pid>-<n>.open``, renamed to
``.seg`` when it is rotated or the process stops. A hit is answered only after the
``fdatasync`` that made its line durable, so neither a crash nor a power cut loses an
answered hit. Requests that arrive while a sync is running wait for the next one, which
then covers all of them at once (group commit): the cost of one sync is shared by a
batch.

The space ahead of the data is written with zeros before lines go into it (as far ahead
as the segment holds data already, between 64 KiB and 4 MiB, so an idle segment costs
little). Appending a batch then changes neither the file's size nor its block map, and its
``fdatasync`` flushes only the data, with no journal commit (0.17 against 0.22 ms per sync
on the VM of bench/pixel/notes.md). Lines never hold a NUL byte, so the first NUL in a
segment marks the end of what was written; sealing cuts the zeros off.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from republish.hits import written

logger = logging.getLogger("republish.pixel")

OPEN_SUFFIX = ".open"
SEALED_SUFFIX = ".seg"
# Zeros are written ahead of the data, as far as the segment holds data already but at
# least MIN and at most MAX, in one go when less than half of that is left.
MIN_ZERO_AHEAD_BYTES = 64 * 1024
MAX_ZERO_AHEAD_BYTES = 4 * 1024 * 1024
_ZEROS = bytes(MAX_ZERO_AHEAD_BYTES)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | memoryview, offset: int | None = None) -> None:
    """Write all of ``data`` at the file position, or at ``offset`` (not moving it)."""
    view = memoryview(data)
    while view:
        if offset is None:
            written = os.write(fd, view)
        else:
            written = os.pwrite(fd, view, offset)
            offset += written
        view = view[written:]


def data_end(path: Path) -> int:
    """Where the written data of a segment ends: its first NUL byte, or its size."""
    with path.open("rb") as handle:
        offset = 0
        while block := handle.read(1024 * 1024):
            data = written(block)
            offset += len(data)
            if len(data) < len(block):
                break
        return offset


def host_tag() -> str:
    """This machine's name as it appears in segment names (no dashes)."""
    return socket.gethostname().replace("-", "_")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def seal_orphans(directory: Path, host: str | None = None) -> list[Path]:
    """Rename ``.open`` segments of dead processes on this host to ``.seg``, cutting off
    the zeros written ahead of their data.

    A crashed writer leaves its segment open; its complete lines are all answered hits
    and stay readable either way, sealing only lets them be removed after rollup.
    """
    host = host or host_tag()
    sealed = []
    for path in sorted(directory.glob(f"*{OPEN_SUFFIX}")):
        parts = path.name.removesuffix(OPEN_SUFFIX).split("-")
        if len(parts) != 4 or parts[1] != host:
            continue
        try:
            pid = int(parts[-2])
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            fd = os.open(path, os.O_WRONLY)
            try:
                os.ftruncate(fd, data_end(path))
                os.fsync(fd)
            finally:
                os.close(fd)
            target = path.with_suffix(SEALED_SUFFIX)
            path.rename(target)
            sealed.append(target)
    if sealed:
        _fsync_dir(directory)
    return sealed


def _settle(future: asyncio.Future[None], error: OSError | None) -> None:
    if future.done():  # the waiting request was cancelled
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class HitLog:
    """Durable appends with group commit. Use from one event loop::

    log = HitLog(Path("hits"))
    await log.append(encode(record))   # returns once the line is on disk
    log.submit(line, callback)         # or: callback(None) once it is on disk
    await log.aclose()
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_segment_bytes: int = 64 * 1024 * 1024,
        max_segment_age_s: float = 300.0,
        sync: bool = True,
    ) -> None:
        self.directory = directory
        self.max_segment_bytes = max_segment_bytes
        self.max_segment_age_s = max_segment_age_s
        self.sync = sync
        self._host = host_tag()
        self._pending: list[tuple[bytes, Callable[[OSError | None], None]]] = []
        self._wake: asyncio.Event | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False
        # One thread does every write and sync, in order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hitlog")
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._zeroed = 0  # the open segment holds zeros up to here
        self._opened_at = 0.0
        self._counter = 0
        self.written = 0  # lines made durable, for tests and metrics

    def submit(self, line: bytes, done: Callable[[OSError | None], None]) -> None:
        """Queue ``line``; ``done(None)`` is called (on the loop) once it is durable, or
        ``done(error)`` if the write failed. Callbacks run in the order lines were queued."""
        if self._closing:
            raise RuntimeError("hit log is closed")
        if self._wake is None:
            self._wake = asyncio.Event()
            self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())
        self._pending.append((line, done))
        self._wake.set()

    async def append(self, line: bytes) -> None:
        """Queue ``line`` and return once it is durable (raises if the write failed)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.submit(line, functools.partial(_settle, future))
        await future

    async def aclose(self) -> None:
        """Write what is pending, seal the segment, stop the flusher."""
        self._closing = True
        if self._wake is not None and self._flusher is not None:
            self._wake.set()
            await self._flusher
        await asyncio.get_running_loop().run_in_executor(self._executor, self._seal)
        self._executor.shutdown(wait=True)

    def advance(self, written_bytes: int, written_lines: int) -> tuple[int, bool, int]:
        """For a writer that appends to the segment itself (the compiled front in
        :mod:`republish.pixel.native`, from its one writer thread): count what it wrote
        and made durable since the last call, seal the segment and open the next when it
        is due, and return the descriptor to append to (at its file position), whether to
        ``fdatasync``, and how many bytes are zeroed ahead (the writer calls again before
        it writes past them)."""
        self._size += written_bytes
        self.written += written_lines
        fd = self._segment()
        end = os.lseek(fd, 0, os.SEEK_CUR)
        self._zero_ahead(fd, end)
        return fd, self.sync, self._zeroed - end

    def report_failure(self, lines: int, error: str) -> None:
        """Log a failed append of ``lines`` hits by such a writer (they are not counted)."""
        logger.error("hit log write failed, %d hits not counted: %s", lines, error)

    def close_now(self) -> None:
        """Seal the segment and stop, on the calling thread (after :meth:`advance`)."""
        self._closing = True
        self._seal()
        self._executor.shutdown(wait=True)

    async def _flush_forever(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                error: OSError | None = None
                data = b"".join([line for line, _ in batch])
                try:
                    await loop.run_in_executor(self._executor, self._write, data, len(batch))
                except OSError as exc:
                    logger.error("hit log write failed, %d hits not counted: %s", len(batch), exc)
                    error = exc
                for _, done in batch:
                    try:
                        done(error)
                    except Exception:  # one broken callback must not starve the others
                        logger.exception("hit log callback failed")
            if self._closing and not self._pending:
                return

    # The methods below run on the writer thread only.

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = f"{stamp}-{self._host}-{os.getpid()}-{self._counter:06d}{OPEN_SUFFIX}"
        self._path = self.directory / name
        # Not O_APPEND: lines go at the file position, into the zeros written ahead.
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        self._size = 0
        self._zeroed = 0
        self._opened_at = time.monotonic()
        # The new name must survive a power cut too.
        _fsync_dir(self.directory)

    def _seal(self) -> None:
        if self._fd is None or self._path is None:
            return
        # The file position is where the last write ended, also after a failed one.
        os.ftruncate(self._fd, os.lseek(self._fd, 0, os.SEEK_CUR))
        os.fsync(self._fd)
        os.close(self._fd)
        self._path.rename(self._path.with_suffix(SEALED_SUFFIX))
        _fsync_dir(self.directory)
        self._fd = None
        self._path = None

    def _segment(self) -> int:
        """The open segment's descriptor, after sealing it and opening the next when it is
        due (by size or age)."""
        if self._fd is not None and (
            self._size >= self.max_segment_bytes
            or time.monotonic() - self._opened_at >= self.max_segment_age_s
        ):
            self._seal()
        if self._fd is None:
            self._open()
        assert self._fd is not None
        return self._fd

    def _zero_ahead(self, fd: int, end: int) -> None:
        """Write zeros ahead of ``end`` when less than half the distance is left (the next
        ``fdatasync`` makes them durable with the data)."""
        ahead = min(max(end, MIN_ZERO_AHEAD_BYTES), MAX_ZERO_AHEAD_BYTES)
        if self._zeroed - end >= ahead // 2:
            return
        start = max(self._zeroed, end)
        target = end + ahead
        _write_all(fd, memoryview(_ZEROS)[: target - start], start)
        self._zeroed = target

    def _write(self, data: bytes, lines: int) -> None:
        fd = self._segment()
        end = os.lseek(fd, 0, os.SEEK_CUR)
        self._zero_ahead(fd, end + len(data))
        _write_all(fd, data)
        if self.sync:
            os.fdatasync(fd)
        self._size += len(data)
        self.written += lines
