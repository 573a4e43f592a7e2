"""Loader of the ESL capture transcripts copied from ../shared/esl-captures (see its README)."""

from __future__ import annotations

from pathlib import Path

CAPTURE_DIR = Path(__file__).parent / "captures"
CAPTURES = sorted(CAPTURE_DIR.glob("*.esl"))


def load_capture(path: Path) -> list[tuple[str, bytes]]:
    """A transcript as ``(direction, bytes)`` chunks; direction is ``client`` or ``server``."""
    data = path.read_bytes()
    chunks: list[tuple[str, bytes]] = []
    pos = 0
    while pos < len(data):
        eol = data.index(b"\n", pos)
        marker, who, n = data[pos:eol].decode("ascii").split(" ")
        assert (marker, who) in ((">>>", "client"), ("<<<", "server"))
        start, end = eol + 1, eol + 1 + int(n)
        assert data[end : end + 1] == b"\n"
        chunks.append((who, data[start:end]))
        pos = end + 1
    return chunks


def server_bytes(path: Path) -> bytes:
    """Everything FreeSWITCH sent, concatenated."""
    return b"".join(b for who, b in load_capture(path) if who == "server")


def client_chunks(path: Path) -> list[bytes]:
    """Every command we sent (one per chunk), without the final empty close chunk."""
    return [b for who, b in load_capture(path) if who == "client" and b]
