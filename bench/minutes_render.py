"""Measure render_docx against a bare docxtpl render of the same data and template.

    python bench/minutes_render.py --runs 15

The meeting has 30 agenda items, 20 resolutions and 200 action items. The bare render
uses the same repaired default-zh template and the same Jinja filters, so the ratio shows
what tag repair, rich-text handling, the East Asian font pass and the leftover-tag check
add. Prints the median wall time of each and their ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import statistics
import time
from datetime import date, timedelta

from docxtpl import DocxTemplate

from confsvc.minutes.formatting import minutes_environment
from confsvc.minutes.render import render_docx, sample_context, shipped_template_path
from confsvc.minutes.render_context import ActionItem, AgendaItem, MinutesContext, Resolution


def large_context() -> MinutesContext:
    base = sample_context()
    agenda = tuple(
        AgendaItem(
            title=f"议题 {n}：华东区第{n}项经营指标",
            presenter="王芳",
            notes="讨论要点。\n后续安排。",
        )
        for n in range(1, 31)
    )
    resolutions = tuple(
        Resolution(
            number=str(n),
            text=f"同意第{n}项调整方案",
            decided_by="表决通过",
            votes_for=7,
            votes_against=1,
            votes_abstain=0,
        )
        for n in range(1, 21)
    )
    actions = tuple(
        ActionItem(
            number=str(n),
            title=f"落实第{n}项整改 (item {n})",
            owner="李娜",
            co_owners=("刘洋", "王芳"),
            due=date(2027, 1, 1) + timedelta(days=n % 60),
            resolution_number=str(n % 20 + 1),
        )
        for n in range(1, 201)
    )
    return dataclasses.replace(
        base, agenda_items=agenda, resolutions=resolutions, action_items=actions
    )


def bare_docxtpl(template: bytes, values: dict) -> bytes:
    document = DocxTemplate(io.BytesIO(template))
    document.render(values, minutes_environment(autoescape=True), autoescape=True)
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def median_ms(function, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each renderer")
    arguments = parser.parse_args()

    context = large_context()
    template = shipped_template_path("default-zh.docx").read_bytes()
    values = context.to_template_context()

    # Warm-up: imports, template repair cache, Jinja compilation paths.
    render_docx(context, template=template)
    bare_docxtpl(template, values)

    product = median_ms(lambda: render_docx(context, template=template), arguments.runs)
    bare = median_ms(lambda: bare_docxtpl(template, values), arguments.runs)
    print(f"agenda items 30, resolutions 20, action items 200, runs {arguments.runs}")
    print(f"render_docx      median {product:8.1f} ms")
    print(f"bare docxtpl     median {bare:8.1f} ms")
    print(f"ratio            {product / bare:8.2f}")


if __name__ == "__main__":
    main()
