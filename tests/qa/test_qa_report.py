"""Daily and weekly QA reports as HTML and PDF with charts; the PDF is looked at as an image."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qa.render import render_html, render_pdf
from qa.report import build_report
from qa.store import StoredResult


def results() -> list[StoredResult]:
    out = []
    base = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    for i in range(12):
        bad = i % 3 == 0
        findings = (
            ({"kind": "hit", "rule": "promise_principal", "category": "prohibited_promise"},)
            if bad
            else ()
        )
        out.append(
            StoredResult(
                f"r{i}",
                f"call-{i}",
                "recording",
                None,
                "marketing",
                f"理财外呼{i % 2}",
                "outbound_marketing",
                f"agent-{i % 3}",
                base + timedelta(days=i % 7, hours=i),
                base,
                60 if bad else 100,
                not bad,
                "2026-12-01.1",
                findings,
            )
        )
    return out


def test_a_weekly_report_aggregates_per_campaign_flow_and_agent() -> None:
    rep = build_report(results(), date(2026, 11, 30), date(2026, 12, 14), "week")
    assert rep.calls == 12 and rep.passed == 8
    assert rep.by_category == {"prohibited_promise": 4}
    assert [r.key for r in rep.by_campaign] == ["理财外呼0", "理财外呼1"]
    assert {r.key for r in rep.by_agent} == {"agent-0", "agent-1", "agent-2"}
    assert [r.key for r in rep.by_period] == ["2026-W49"]
    daily = build_report(results(), date(2026, 11, 30), date(2026, 12, 7), "day")
    assert len(daily.by_period) == 7 and sum(r.calls for r in daily.by_period) == 12


def test_the_html_report_is_self_contained_with_charts() -> None:
    page = render_html(build_report(results(), date(2026, 11, 30), date(2026, 12, 7)))
    assert page.count("data:image/png;base64,") == 3
    assert "理财外呼0" in page and "违规" not in page.split("<body>")[0]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils missing")
def test_the_pdf_report_renders_text_and_charts(tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render_pdf(build_report(results(), date(2026, 11, 30), date(2026, 12, 7))))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    (png,) = sorted(tmp_path.glob("page*.png"))
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    ink = (pixels.sum(axis=2) < 600).mean()  # anything not near-white
    red = ((pixels[..., 0] > 150) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)).mean()
    assert 0.01 < ink < 0.6, ink  # drawn, not blank, not a black page
    assert red > 0.001, red  # the category bar chart's red bars
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "质检" in text and "理财外呼0" in text  # CJK text laid out with a real font
