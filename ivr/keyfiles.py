"""Generated key files (development and tests only): created atomically, owner-only, once.

A key file holds 32 hex digits (16 bytes) and a newline. It is created so that no process ever
sees it partial or readable by others, and so that processes starting together agree on one
key: the key is written and fsync'd to a private temporary file opened with ``O_EXCL`` and mode
0600, then hard-linked to its name (``link`` fails if the name exists: the first process wins,
the others read the winner's key). The folder is made 0700. A key file readable by group or
others, or holding anything but one key, is refused with :class:`ivr.errors.ConfigError` (the
message names the file, never its content).

Production does not use this: ``IVR_ENV=production`` refuses generated keys
(:meth:`ivr.settings.Settings.key_bytes`).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from ivr.durable import fsync_dir
from ivr.errors import ConfigError

KEY_BYTES = 16
_PRIVATE = 0o600


def read_or_create_key(path: Path, nbytes: int = KEY_BYTES) -> bytes:
    """The key in ``path``, creating it (atomically, mode 0600) if it does not exist yet."""
    try:
        return _read(path, nbytes)
    except FileNotFoundError:
        pass
    _create(path, nbytes)
    return _read(path, nbytes)


def _create(path: Path, nbytes: int) -> None:
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _PRIVATE)
    try:
        try:
            os.fchmod(fd, _PRIVATE)  # whatever the umask
            os.write(fd, (secrets.token_hex(nbytes) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process made
        except FileExistsError:
            return
        fsync_dir(folder)
    finally:
        tmp.unlink(missing_ok=True)


def _read(path: Path, nbytes: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"key file {path} is not a regular file")
        if mode & 0o077:
            raise ConfigError(
                f"key file {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
                "it must be 0600"
            )
        with os.fdopen(os.dup(fd), "rb") as fh:
            text = fh.read(4 * nbytes + 8)
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(f"key file {path} does not hold a hex key") from None
    if len(key) != nbytes:
        raise ConfigError(f"key file {path} must hold {2 * nbytes} hex digits")
    return key
