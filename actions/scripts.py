"""What the bot says: pure text composition, no IO.

Marketing content (the product script) is only ever built by :func:`product_script` and only
spoken by the actions after consent for the marketing purpose is on record (invariant 5). The
risk warning is mandatory after any product content and is spoken without barge-in; its words,
like the disclosure's, come from the shared prompt table (:mod:`actions.disclosure`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Product:
    """A campaign's product: its name (named in the consent question) and its filed script."""

    name: str
    script: str
    details: str


DEFAULT_PRODUCT = Product(
    name="稳盈一年期理财产品",
    script=(
        "我行近期发行稳盈一年期理财产品，风险等级为二级，期限一年，一万元起购，"
        "业绩比较基准为年化百分之二点八至百分之三点二，业绩比较基准不代表实际收益。"
    ),
    details=(
        "这款产品期限一年，一万元起购，到期后本息划回您的账户，持有期间不支持提前赎回，"
        "具体以产品说明书为准。"
    ),
)

PRODUCTS: dict[str, Product] = {"default": DEFAULT_PRODUCT}


def product_for(campaign: str | None, product: str | None = None) -> Product:
    """The product of a campaign (metadata ``product`` names a catalogue entry), or the default."""
    for key in (product, campaign):
        if key and key in PRODUCTS:
            return PRODUCTS[key]
    return DEFAULT_PRODUCT


def consent_question(product: Product) -> str:
    """The explicit consent question, naming the purpose (PIPL: purpose, method, scope)."""
    return (
        f"本次来电是想通过电话向您介绍我行的{product.name}，属于营销推介，"
        "大约占用您一分钟。请问您是否同意我为您介绍？"
    )


def product_script(product: Product) -> str:
    """Marketing content: only after consent (invariant 5)."""
    return product.script


PITCH_QUESTION = "请问您是否需要为您安排客户经理办理？"
HOW_CAN_I_HELP = "请问有什么可以帮您？"
SERVICE_PURPOSE = "我是智能客服，可以为您办理账单查询、挂失等业务，也可以为您转接人工。"
CLOSE_REFUSED = "好的，我们已登记您的意愿，今后不会再致电打扰您。感谢您的接听，再见。"
CLOSE_NO_THANKS = "好的，感谢您的来电，再见。"
CLOSE_GOODBYE = "感谢您的接听，再见。"
CLOSE_WRONG_NUMBER = "抱歉打扰您了，我们会核实号码，再见。"
CLOSE_NO_INPUT = "很抱歉一直没有听到您的声音，我们稍后再与您联系，感谢您的接听，再见。"
CLOSE_STORE_ERROR = "抱歉，系统繁忙，稍后由工作人员与您联系，感谢您的接听，再见。"
CLOSE_ON_DNC = "抱歉打扰您了，再见。"
CONSENT_CONFIRM = "为确认您的意愿，请您明确回答同意或者不同意。"
REFUSAL_CONFIRM = "您是说不需要了，以后不希望我们再致电您，对吗？"
ARE_YOU_THERE = "您好，请问您还在听吗？"
OUT_OF_SCOPE = "抱歉，这个问题我暂时无法回答。"
TO_HUMAN = "好的，正在为您转接人工客服，请稍候。"
TO_HUMAN_OOS = "抱歉没能帮到您，正在为您转接人工客服，请稍候。"
TO_SENIOR_COMPLAINT = (
    "非常抱歉给您带来不便，您的问题我们非常重视，正在为您优先转接资深客服专员，请稍候。"
)
TO_SENIOR_HIGH_RISK = "请您不要着急，我们非常重视您的情况，正在为您优先转接资深客服专员，请稍候。"
TO_ADVISER = "好的，正在为您转接客户经理，请稍候。"
SERVICE_REQUEST = "好的，这项业务需要人工为您办理，正在为您转接，请稍候。"
PRODUCT_TO_ADVISER = "产品的具体信息由理财经理为您介绍，正在为您转接，请稍候。"
NO_GUARANTEE = "理财产品不保本、不保证收益，过往业绩不代表未来表现。"


def callback_offer(requested: str | None) -> str:
    """Offer a callback: the caller's own time words if given; the gate decides the real time."""
    when = f"在{requested}" if requested else "稍后"
    return f"好的，不打扰您了，我们会{when}再与您联系，感谢您的接听，再见。"


def marketing_purpose(product: Product) -> str:
    """Answer to "why are you calling" before consent: the purpose, not the content."""
    return f"本次来电是想向您介绍我行的{product.name}。在介绍之前需要征得您的同意。"
