"""The results sink: one JSON line per stored page, appended exactly once across crashes.

The crawler stages a page's line and acks its URL in the same batch, and at every batch boundary
does, in this order::

    offset = sink.flush()                     # 1. lines written, fsynced: the file is N bytes
    await storage.commit(out_path, offset)    # 2. acks + "N bytes covered": ONE transaction

Why this order is correct, wherever a crash (SIGKILL, power cut) lands:

* before or during 1: the file may hold bytes past the last committed offset, even a torn line;
  the acks of this batch are not committed, so their URLs are pending again;
* between 1 and 2: the file is longer than the committed offset; same as above;
* after 2: the file and the frontier agree.

On the next run :meth:`JsonlSink.open` cuts the file back to the committed offset, so the lines
of uncommitted acks vanish together with the acks, and those URLs are fetched and written once
more. The other order (commit, then write) would lose pages: acked as done, never written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from crawler.errors import StorageError

log = logging.getLogger(__name__)

_TAIL_CHUNK = 64 * 1024
# Line breaks to str.splitlines() (and to JavaScript) that json.dumps leaves raw with
# ensure_ascii=False: escaped, so that every reader sees one record a line.
_ESCAPE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


class JsonlSink:
    """Appends records to a JSONL file in fsynced batches. Nothing is opened in ``__init__``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: BinaryIO | None = None
        self._staged: list[bytes] = []
        self._keys: list[str | None] = []  # each staged line's record "url"
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes in the file that :meth:`flush` has made durable."""
        return self._size

    async def open(self, committed_offset: int | None) -> None:
        """Open for appending, first cutting off what no committed ack covers.

        A file longer than ``committed_offset`` is truncated to it (those lines belong to acks
        that never committed). A file with no committed offset (a new state dir), or one shorter
        than it (changed by someone else), is kept, minus a torn last line.
        """
        if self._file is not None:
            return
        try:
            self._file = self._open(committed_offset)
        except OSError as exc:
            raise StorageError(f"results file {self.path}: cannot open: {_reason(exc)}") from exc

    def _open(self, committed_offset: int | None) -> BinaryIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: a failed write (disk full, /dev/full) leaves no bytes in a Python buffer
        # that close() would try, and fail, to write again; flush() owns every write.
        file = open(self.path, "a+b", buffering=0)  # noqa: SIM115  # closed by close()
        try:
            size = os.fstat(file.fileno()).st_size
            keep = size
            if committed_offset is not None and size > committed_offset:
                keep = committed_offset
                log.info(
                    "Cut %d uncommitted bytes off %s; their pages will be fetched again",
                    size - committed_offset,
                    self.path,
                )
            else:
                if committed_offset is not None and size < committed_offset:
                    log.warning(
                        "%s is shorter (%d bytes) than the %d bytes committed; keeping it",
                        self.path,
                        size,
                        committed_offset,
                    )
                keep = self._complete_lines(file, size)
                if keep < size:
                    log.warning("Cut a torn last line (%d bytes) off %s", size - keep, self.path)
            if keep < size:
                file.truncate(keep)
                file.flush()
                os.fsync(file.fileno())
            self._size = keep
            return file
        except BaseException:
            file.close()
            raise

    @staticmethod
    def _complete_lines(file: BinaryIO, size: int) -> int:
        """The length of the file up to and including its last newline."""
        end = size
        while end > 0:
            start = max(0, end - _TAIL_CHUNK)
            file.seek(start)
            chunk = file.read(end - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            end = start
        return 0

    def stage(self, record: dict[str, Any]) -> None:
        """Serialise one record into the in-memory batch (no I/O)."""
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        # str.translate looks every character up in the table (~200 µs for a page's record);
        # three substring scans (~1 µs) tell whether there is anything to translate.
        if "\x85" in text or "\u2028" in text or "\u2029" in text:
            text = text.translate(_ESCAPE_BREAKS)
        line = text + "\n"
        # A lone surrogate (from a badly decoded page) cannot be UTF-8: write it as a JSON
        # escape instead, which reads back as the same string.
        self._staged.append(line.encode("utf-8", "backslashreplace"))
        url = record.get("url")
        self._keys.append(url if isinstance(url, str) else None)

    def discard(self, urls: set[str]) -> None:
        """Drop the staged lines of ``urls`` before they are written: their acks were dropped
        (a lost lease, see ``Storage.fence_acks``), so another worker stores them."""
        if not urls:
            return
        pairs = zip(self._keys, self._staged, strict=True)
        kept = [(k, line) for k, line in pairs if k not in urls]
        self._keys = [k for k, _ in kept]
        self._staged = [line for _, line in kept]

    @property
    def staged(self) -> int:
        """Records staged since the last flush."""
        return len(self._staged)

    def flush(self) -> int:
        """Write the batch, flush and fsync; return the file's new size, the offset to commit."""
        file = self._file
        if file is None:
            raise StorageError(f"results file {self.path}: not open")
        if not self._staged:
            return self._size
        data = b"".join(self._staged)
        try:
            _write_all(file, data)
            os.fsync(file.fileno())
        except OSError as exc:
            # Leave no half batch behind for the next flush to append to; keep the batch.
            try:
                file.truncate(self._size)
            except OSError:
                log.debug("Could not cut %s back after a failed write", self.path, exc_info=True)
            raise StorageError(f"results file {self.path}: write failed: {_reason(exc)}") from exc
        self._staged.clear()
        self._keys.clear()
        self._size += len(data)
        return self._size

    async def close(self) -> None:
        """Write what is still staged and close. Those lines count only once a commit covers
        them, so the crawler flushes and commits before closing."""
        file = self._file
        if file is None:
            return
        try:
            self.flush()
        finally:
            self._file = None
            with contextlib.suppress(OSError):  # unbuffered: nothing is left to write
                file.close()


def _write_all(file: BinaryIO, data: bytes) -> None:
    """``write`` on an unbuffered file may write less than asked: loop until all is written."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:
            raise OSError(f"wrote nothing of {len(view)} bytes")
        view = view[written:]


def _reason(exc: OSError) -> str:
    """``No space left on device (errno 28)`` — the why of an OSError without the path twice."""
    if exc.strerror:
        return f"{exc.strerror} (errno {exc.errno})"
    return str(exc) or type(exc).__name__


def write_summary(path: str | Path, data: dict[str, Any]) -> None:
    """Write the run's summary JSON atomically: a complete file or the old one, never half.

    The JSON goes to a temporary file beside ``path`` (same directory, so the rename is atomic),
    is fsynced and renamed over ``path``. On any failure the temporary file is removed and
    :class:`StorageError` says why in one line; no ``.tmp`` is ever left behind. A ``path``
    that is a directory is refused before anything is written. A symlink is followed (the file
    it names is replaced, not the link), and a path that is not a regular file (``/dev/stdout``,
    a FIFO, ``/dev/full``) is written in place: renaming over it would replace the device.
    """
    target = Path(path)
    if target.is_dir():
        raise StorageError(f"summary file {target}: is a directory")
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    payload = text.encode("utf-8", "backslashreplace")
    if target.exists():
        target = target.resolve()
        if not target.is_file():
            try:
                with open(target, "wb", buffering=0) as file:
                    _write_all(file, payload)
            except OSError as exc:
                raise StorageError(f"summary file {path}: cannot write: {_reason(exc)}") from exc
            return
    tmp_name: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb", buffering=0) as file:
            _write_all(file, payload)
            os.fsync(file.fileno())
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as exc:
        raise StorageError(f"summary file {path}: cannot write: {_reason(exc)}") from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
