"""Files that appear only when complete: written under a temporary name in the same folder, flushed,
fsynced, then renamed into place (``os.replace``, atomic on POSIX and Windows).

    with publish(path) as f:          # binary; publish(path, "w") for UTF-8 text
        f.write(data)
    write_text_atomic(path, text)
    remove_temporaries(folder)        # what an interrupted run left behind

Whatever stops the writer (Ctrl-C, a kill, a crash, a power cut once fsynced), a reader or a rerun
sees no file, the old file or the complete new one, never part of one. Temporary names are hidden
and recognisable: ``.NAME.<pid>.tmp`` (:func:`temporary_name`), so a rerun can remove them.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Iterator

TMP_SUFFIX = ".tmp"


def temporary_name(path: str | Path) -> Path:
    """The temporary name ``path`` is written under: ``.NAME.<pid>.tmp`` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


@contextlib.contextmanager
def publish(path: str | Path, mode: str = "wb", fsync: bool = True) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; when the block ends without an exception, flush,
    fsync (unless ``fsync=False``) and rename it to ``path``; otherwise remove it. ``mode``: "wb" or "w"."""
    if mode not in ("wb", "w"):
        raise ValueError(f"publish() writes new files: mode 'wb' or 'w', not {mode!r}")
    path = Path(path)
    tmp = temporary_name(path)
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str, fsync: bool = True) -> None:
    with publish(path, "w", fsync=fsync) as f:
        f.write(text)


def write_bytes_atomic(path: str | Path, data: bytes, fsync: bool = True) -> None:
    with publish(path, "wb", fsync=fsync) as f:
        f.write(data)


def fsync_dir(folder: str | Path) -> None:
    """Make the renames done in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_temporaries(folder: str | Path) -> int:
    """Delete the temporary files :func:`publish` leaves in ``folder`` when its process is killed; returns
    how many. Only for a folder no other process is writing to at the same time."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for p in folder.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed += 1
    return removed
