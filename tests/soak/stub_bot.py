"""A stub of the Rasa server (NLU ``/model/parse``, REST channel ``/webhooks/rest/webhook``) and
of the CRM risk endpoint, for the short fault soak: a process the soak can kill and restart in a
second, where the real Rasa server needs a minute and 1 GB to start (``make soak --bot rasa``
runs the real one). Keyword intents, constant replies (the prompt cache then renders each once).

Run as ``python tests/soak/stub_bot.py PORT``; ``GET /`` answers once it listens.
"""

from __future__ import annotations

import sys

from aiohttp import web

REFUSE = ("别再", "不要再", "不要打")
INTENTS = (
    (REFUSE, "refuse_contact"),
    (("不需要", "不用"), "deny"),
    (("投诉",), "complaint"),
    (("人工",), "ask_human"),
    (("好的", "可以"), "affirm"),
)
BYE = {"directive": "hangup", "cause": "NORMAL_CLEARING", "outcome": "completed"}
REFUSED = {"directive": "hangup", "cause": "NORMAL_CLEARING", "outcome": "refused",
           "dnc_recorded": False}  # fmt: skip


def intent_of(text: str) -> tuple[str, float]:
    for words, intent in INTENTS:
        if any(w in text for w in words):
            return intent, 0.95
    return "nlu_fallback", 0.3


async def parse(request: web.Request) -> web.Response:
    text = str((await request.json()).get("text", ""))
    name, confidence = intent_of(text)
    body = {"text": text, "intent": {"name": name, "confidence": confidence}, "entities": []}
    return web.json_response(body)


async def webhook(request: web.Request) -> web.Response:
    text = str((await request.json()).get("message", ""))
    if intent_of(text)[0] == "refuse_contact":
        # what the action server answers when it could not write DNC itself: the orchestrator
        # then makes the DNC entry durable before teardown (the stub has no stores)
        return web.json_response([{"custom": REFUSED}])
    return web.json_response([{"text": "感谢您的来电，再见。"}, {"custom": BYE}])


async def risk(_request: web.Request) -> web.Response:
    return web.json_response({"risk_level": "low"})


async def status(_request: web.Request) -> web.Response:
    return web.Response(text="Hello from Rasa: 3.6.21 (soak stub)")


def main(port: int) -> None:
    app = web.Application()
    app.router.add_post("/model/parse", parse)
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_route("*", "/risk", risk)
    app.router.add_get("/", status)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, reuse_address=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
