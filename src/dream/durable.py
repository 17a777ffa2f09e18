"""Durable renames: a file written to a temporary name, synced and renamed is whole after a
crash, but the rename itself is only on disk once its directory is synced too (POSIX says so;
ext4 and XFS commit it with their journal, seconds later). Standard library only: the collector's
spool and the server's blob store both use it."""

from __future__ import annotations

import errno
import os
from pathlib import Path


# What a file system answers when it cannot sync a directory at all (some FUSE and SMB mounts):
# nothing more can be done there, unlike an I/O error.
_CANNOT_SYNC_DIRS = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


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
