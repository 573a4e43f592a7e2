"""Durable file-system steps shared by the adapters that must survive a crash (pure IO helpers)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a directory's entries (a link, a rename, an unlink) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
