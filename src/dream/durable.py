"""Durable renames: a file written to a temporary name, synced and renamed is whole after a
crash, but the rename itself is only on disk once its directory is synced too (POSIX says so;
ext4 and XFS commit it with their journal, seconds later). Standard library only: the collector's
spool, the server's blob store and its local pseudonym key use it."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


# What a file system answers when it cannot sync a directory at all (some FUSE and SMB mounts):
# nothing more can be done there, unlike an I/O error.
_CANNOT_SYNC_DIRS = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}

TEMPORARY_PREFIX = ".tmp-"  # write_file's temporary files, which a crash may leave behind


def fsync_dir(directory: Path) -> None:
    """Make the entries last created, renamed or removed in ``directory`` durable. A no-op where
    directories cannot be opened (Windows: NTFS journals its metadata) or synced."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _CANNOT_SYNC_DIRS:
            raise
    finally:
        os.close(fd)


def make_dirs(directory: Path) -> None:
    """``directory`` and its missing parents, each new one's entry durable in its parent."""
    if directory.is_dir():
        return
    make_dirs(directory.parent)
    try:
        directory.mkdir()
    except FileExistsError:  # another process made it meanwhile: its entry is its to sync
        return
    fsync_dir(directory.parent)


def write_file(path: Path, data: bytes, *, replace: bool = True) -> bool:
    """Write ``data`` to ``path`` whole and durably: to a private (0600) temporary file beside
    it, synced, then renamed into place, and the directory synced. With ``replace=False`` an
    existing ``path`` is never replaced (the temporary file is linked in, which fails if
    another process was first; renamed where the file system has no hard links): False then,
    and ``path`` keeps the other's data."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links (FAT, some mounts)
                if path.exists():
                    return False
                os.replace(tmp, path)
        fsync_dir(path.parent)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)
