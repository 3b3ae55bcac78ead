"""One writer at a time in an output folder: ``OUT/.analysis.lock``, held with ``fcntl.flock``.

``analysis report`` and ``analysis batch`` both take it before they write anything into ``--out``
(a batch holds it for its workers, local or on a cluster). It is never waited for: a second writer
exits at once (exit 2), naming the one that holds the folder, so that cron runs do not pile up
behind a slow one. The lock belongs to an open file, so the kernel releases it when its holder dies,
however it dies; the file itself is removed on release (the holder checks, after locking, that the
file it locked is still the one at the path, so removing it never lets two writers in).
"""
from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import json
import os
import sys
from pathlib import Path

from .errors import AnalysisError

FILE = ".analysis.lock"


class FolderBusy(AnalysisError):
    """Raised when another report or batch is writing into the same output folder."""

    exit_code = 2

    def __init__(self, message: str, *, folder: str, holder: dict):
        self.folder = folder
        self.holder = holder
        super().__init__(message)


class FolderLock:
    """``with FolderLock(out, "batch", label="--out"):`` — see the module docstring."""

    def __init__(self, out: Path, what: str, *, label: str = "--out"):
        self.out = Path(out)
        self.path = self.out / FILE
        self.what = what
        self.label = label
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "FolderLock":
        """Take the lock or raise.

        Raises:
            FolderBusy: (exit 2) another report or batch holds it.
            AnalysisError: (exit 1) the folder cannot be written to (read-only, full, not a folder).
        """
        while self._fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise self._unwritable(exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise self._unwritable(exc) from None
                holder = self._holder()
                who = f"{holder.get('what', 'another writer')} (pid {holder.get('pid', '?')}, started " \
                      f"{holder.get('started', '?')})" if holder else "another report or batch"
                raise FolderBusy(f"{self.label} {self.out}: expected a folder no other report or batch is writing to, "
                                 f"found it in use by {who}; wait for it to finish or use another {self.label}",
                                 folder=str(self.out), holder=holder) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:   # its holder removed it between our open and our lock: take the new one
                os.close(fd)
                continue
            self._fd = fd
            try:
                info = {"what": self.what, "pid": os.getpid(), "started": _dt.datetime.now().isoformat(timespec="seconds"),
                        "command": " ".join(sys.argv)[:500]}
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps(info, ensure_ascii=False).encode())
            except OSError:    # a full disk: the lock holds all the same, unnamed
                pass
        return self

    def _holder(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.loads(f.read(4096) or "{}")
        except (OSError, ValueError):
            return {}

    def _unwritable(self, exc: OSError) -> AnalysisError:
        reason = exc.strerror or str(exc)
        return AnalysisError(f"{self.label} {self.out}: expected a folder the reports can be written to, found that "
                             f"{self.path.name} cannot be created in it ({reason})")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)   # while still locked: see the module docstring
        except OSError:
            pass
        os.close(self._fd)                      # closing releases the lock
        self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
