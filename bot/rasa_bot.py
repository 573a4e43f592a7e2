"""The flows' dialogue bot: caller turns to Rasa, the customer as an opaque caller handle.

:class:`RasaBot` is what the call orchestrator talks to (``flows.ports.DialogueBot``): turns go
through :class:`bot.client.RasaClient`; :meth:`RasaBot.caller_handle` issues the handle that
stands for the customer's number in every message to Rasa (:mod:`bot.caller_handles`). When the
handle store fails the call goes on: the caller is sent as :data:`~bot.caller_handles.UNAVAILABLE`
(identified, unnamed), so a refusal heard by the bot is recorded by the orchestrator instead.
"""

from __future__ import annotations

import logging

from bot.caller_handles import UNAVAILABLE, CallerHandles
from bot.client import CallMetadata, RasaClient
from bot.directives import Directive
from ivr.errors import StoreUnavailableError
from ivr.phone import CustomerNumber

log = logging.getLogger(__name__)


class RasaBot:
    """Rasa conversations whose customer is known only by a call-scoped handle."""

    def __init__(self, client: RasaClient, handles: CallerHandles) -> None:
        self.client = client
        self.handles = handles

    async def caller_handle(self, call_id: str, customer: CustomerNumber | None) -> str | None:
        """The handle to send for ``customer`` (``None``: the caller has no usable number)."""
        try:
            return await self.handles.issue(call_id, customer)
        except StoreUnavailableError:
            log.warning("call %s: no caller handle (store unavailable)", call_id)
            return UNAVAILABLE

    async def send(
        self, sender_id: str, text: str, metadata: CallMetadata | None = None
    ) -> list[Directive]:
        return await self.client.send(sender_id, text, metadata)

    async def aclose(self) -> None:
        await self.client.aclose()
