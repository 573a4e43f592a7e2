"""QA reports as HTML and PDF with charts (adapter: matplotlib, WeasyPrint, CJK fonts).

Charts are drawn with matplotlib (Agg) in Noto Sans CJK (Debian ``fonts-noto-cjk``, installed
by ``scripts/setup.sh``) and embedded as PNG; the HTML is self-contained; the PDF is the same
HTML laid out by WeasyPrint. A missing CJK font is a clear error, never tofu boxes.
"""

from __future__ import annotations

import base64
import html
import io
from functools import lru_cache
from pathlib import Path

from ivr.errors import ConfigError
from qa.report import Report, Row

FONT_FAMILY = "Noto Sans CJK SC"
_CATEGORY_NAMES = {
    "prohibited_promise": "违规承诺",
    "misleading_comparison": "误导性比较",
    "pressure_tactic": "施压营销",
    "mandatory": "必备话术缺失",
}


@lru_cache(maxsize=1)
def _matplotlib() -> object:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    fonts = [
        f
        for f in font_manager.findSystemFonts()
        if "NotoSansCJK" in Path(f).name or "NotoSansCJK" in f
    ]
    if not fonts:
        raise ConfigError(
            "no CJK font for the QA report charts: install fonts-noto-cjk (scripts/setup.sh does)"
        )
    for f in fonts:
        font_manager.fontManager.addfont(f)
    matplotlib.rcParams["font.family"] = FONT_FAMILY
    matplotlib.rcParams["axes.unicode_minus"] = False
    import matplotlib.pyplot as plt

    return plt


def _png(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")  # type: ignore[attr-defined]
    plt = _matplotlib()
    plt.close(fig)  # type: ignore[attr-defined]
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def charts(report: Report) -> list[tuple[str, str]]:
    """(caption, PNG data URI) for each chart."""
    plt = _matplotlib()
    out: list[tuple[str, str]] = []
    fig, ax = plt.subplots(figsize=(6, 3))  # type: ignore[attr-defined]
    names = [_CATEGORY_NAMES.get(k, k) for k in report.by_category] or ["无"]
    ax.bar(names, list(report.by_category.values()) or [0], color="#c0392b")
    ax.set_title("各类质检问题数量 Findings by category")
    out.append(("质检问题分类", _png(fig)))
    fig, ax = plt.subplots(figsize=(6, 3))  # type: ignore[attr-defined]
    keys = [r.key for r in report.by_period] or ["-"]
    ax.plot(keys, [r.avg_score for r in report.by_period] or [0], marker="o", label="平均分")
    ax.plot(
        keys, [100 * r.pass_rate for r in report.by_period] or [0], marker="s", label="合格率 %"
    )
    ax.set_ylim(0, 105)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.legend()
    ax.set_title("平均分与合格率 Score and pass rate")
    out.append(("趋势", _png(fig)))
    fig, ax = plt.subplots(figsize=(6, 3))  # type: ignore[attr-defined]
    agents = [r.key for r in report.by_agent] or ["-"]
    ax.barh(agents, [r.avg_score for r in report.by_agent] or [0], color="#2e86c1")
    ax.set_xlim(0, 100)
    ax.set_title("坐席平均分 Average score per agent")
    out.append(("坐席", _png(fig)))
    return out


def _table(title: str, rows: tuple[Row, ...]) -> str:
    body = (
        "".join(
            f"<tr><td>{html.escape(r.key)}</td><td>{r.calls}</td><td>{r.avg_score:.1f}</td>"
            f"<td>{100 * r.pass_rate:.0f}%</td><td>{r.findings}</td></tr>"
            for r in rows
        )
        or "<tr><td colspan='5'>无数据 no data</td></tr>"
    )
    return (
        f"<h2>{html.escape(title)}</h2><table><tr><th>名称</th><th>通话数</th><th>平均分</th>"
        f"<th>合格率</th><th>问题数</th></tr>{body}</table>"
    )


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    imgs = "".join(
        f"<figure><img src='{uri}' alt='{html.escape(cap)}'/><figcaption>{html.escape(cap)}"
        "</figcaption></figure>"
        for cap, uri in charts(report)
    )
    rules = "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in report.by_rule.items())
    rate = f"{100 * report.passed / report.calls:.0f}%" if report.calls else "-"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(report.title)}</title>
<style>
body {{ font-family: "{FONT_FAMILY}", sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1em; }}
td, th {{ border: 1px solid #999; padding: 2px 8px; }}
th {{ background: #eee; }}
figure {{ margin: 0.5em 0; }} img {{ max-width: 100%; }}
@page {{ size: A4; margin: 1.5cm; }}
</style></head><body>
<h1>{html.escape(report.title)}</h1>
<p>通话 {report.calls} 通，合格 {report.passed} 通（合格率 {rate}），
平均分 {report.avg_score:.1f}</p>
{imgs}
<h2>命中规则 Rules hit</h2><ul>{rules or "<li>无</li>"}</ul>
{_table("按营销活动 By campaign", report.by_campaign)}
{_table("按流程 By flow", report.by_flow)}
{_table("按坐席 By agent", report.by_agent)}
{_table("按周期 By " + report.period, report.by_period)}
</body></html>"""


def render_pdf(report: Report) -> bytes:
    """The report as PDF (WeasyPrint lays out the HTML)."""
    from weasyprint import HTML

    return bytes(HTML(string=render_html(report)).write_pdf())
