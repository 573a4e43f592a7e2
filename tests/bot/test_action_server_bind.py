"""The action server (it writes DNC entries and consents) listens on loopback only."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def listening_addresses(port: int) -> set[str]:
    """Local addresses of listening TCP sockets on ``port`` (IPv4 and IPv6), from /proc."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_action_server_listens_on_loopback_only(rasa_stack: Any) -> None:
    port = int(rasa_stack.action_url.rsplit(":", 1)[1])
    addresses = listening_addresses(port)
    assert addresses, "action server not listening"
    assert addresses == {"0100007F"}, addresses  # 127.0.0.1, never 0.0.0.0 or ::
