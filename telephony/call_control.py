"""``CallControl``: the FreeSWITCH ``api`` commands a call's application needs beside its
dialplan applications, as typed calls (the command strings live here, not in the flows).

- :meth:`CallControl.free_agents`: ``callcenter_config queue count agents <queue>@default
  Available`` (mod_callcenter), the agents that could take the call now;
- :meth:`CallControl.start_audio_fork` / :meth:`CallControl.stop_audio_fork`:
  ``uuid_audio_fork <uuid> start <url> mono 8k <metadata>`` (mod_audio_fork) streams the
  caller's audio to a WebSocket; ``stop`` ends it;
- :meth:`CallControl.break_playback`: ``uuid_break <uuid> all`` stops what plays now.
"""

from __future__ import annotations

import contextlib
import json

from telephony.session import CallSession


class CallControl:
    """The ``api`` side of one call, over its outbound-socket session."""

    def __init__(self, session: CallSession) -> None:
        self.session = session

    async def free_agents(self, queue: str, domain: str = "default") -> int:
        """How many agents of ``queue`` are Available (0 when the answer is not a count)."""
        reply = await self.session.api(
            "callcenter_config", f"queue count agents {queue}@{domain} Available"
        )
        body = reply.body.decode(errors="replace").strip() if reply.body else ""
        return int(body) if body.isdigit() else 0

    async def start_audio_fork(self, url: str) -> bool:
        """Fork the caller's audio (mono, 8 kHz) to ``url``; False if FreeSWITCH refused."""
        uuid = self.session.uuid
        metadata = json.dumps({"uuid": uuid})
        reply = await self.session.api("uuid_audio_fork", f"{uuid} start {url} mono 8k {metadata}")
        return reply.text.startswith("+OK")

    async def stop_audio_fork(self, timeout_s: float = 2.0) -> None:
        """Stop the fork (best effort: the channel may be gone)."""
        with contextlib.suppress(Exception):
            await self.session.api(
                "uuid_audio_fork", f"{self.session.uuid} stop", timeout_s=timeout_s
            )

    async def break_playback(self) -> None:
        """Stop the playing prompt now (caller barge-in)."""
        await self.session.api("uuid_break", f"{self.session.uuid} all")
