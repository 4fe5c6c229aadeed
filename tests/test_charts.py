"""The overview's Plotly figures: titles and axis labels, registry colours, title + id, escaped user text."""

from __future__ import annotations

import pytest
from conftest import BASIC, HOSTILE_QUEUE, zip_folder

from diagnostics import charts
from diagnostics.app_state import UNEXPLAINED_COLOR
from diagnostics.causes import BY_ID, CAUSES, COLORS
from diagnostics.demo import demo_files
from diagnostics.evaluate import diagnose
from diagnostics.snapshot import load_uploaded


@pytest.fixture(scope="module")
def demo():
    return diagnose(load_uploaded(list(demo_files().items())))


@pytest.fixture(scope="module")
def hostile():
    def rename(name, data):
        for row in data.get("value", []):
            if name == "queues.json" and row.get("name") == "Helpdesk":
                row["name"] = HOSTILE_QUEUE
        return data

    return diagnose(load_uploaded([("hostile.zip", zip_folder(BASIC, rename))]))


def titled(figure) -> None:
    assert figure.layout.title.text
    for axis in ("xaxis", "yaxis"):
        assert figure.layout[axis].title.text, f"{figure.layout.title.text}: {axis} has no title"


def test_every_overview_chart_has_a_title_and_axis_labels(demo):
    figures = charts.overview_figures(demo)
    assert set(figures) == {"causes", "trend", "heatmap", "funnel"}
    for figure in figures.values():
        titled(figure)


def test_cause_bars_are_sorted_coloured_from_the_registry_and_carry_title_and_id(demo):
    figure = charts.cause_bars(demo)
    bar = figure.data[0]
    counts = list(bar.x)
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == demo.summary()["needs_action"]  # working as designed left out
    for cause, color, label in zip([item[0] for item in bar.customdata], bar.marker.color, bar.y, strict=True):
        assert color == COLORS[cause]
        assert f"({cause})" in label and BY_ID[cause].title.split()[0] in label
    assert figure.layout.yaxis.autorange == "reversed"  # the largest on top


def test_daily_trend_stacks_causes_with_their_colours_and_names(demo):
    figure = charts.daily_trend(demo)
    assert figure.layout.barmode == "stack"
    bars = [trace for trace in figure.data if trace.type == "bar"]
    assert bars
    for trace in bars:
        cause = trace.customdata[0]
        assert trace.marker.color == COLORS[cause]
        assert trace.name == cause  # one short line per cause: the legend fits under the axis at 800 px
        assert f"({cause})" in trace.hovertemplate  # the title with the id in the hover label
    assert sum(sum(trace.y) for trace in bars) == demo.summary()["needs_action"]


def test_heatmap_cells_can_be_clicked_to_a_cause_and_queue(demo):
    figure = charts.queue_cause_heatmap(demo)
    heat, cells = figure.data
    assert heat.type == "heatmap" and cells.type == "scatter"
    assert len(cells.customdata) == len(heat.x) * len(heat.y)
    causes = {cause for cause, _ in cells.customdata}
    assert causes <= set(BY_ID) | {"unexplained"}
    assert sum(sum(row) for row in heat.z) >= demo.summary()["needs_action"] - demo.summary()["unexplained"]


def test_funnel_follows_the_pipeline_and_ends_with_the_converted(demo):
    figure = charts.pipeline_funnel(demo)
    funnel = figure.data[0]
    assert len(funnel.y) == len(CAUSES) + 1
    values = list(funnel.x)
    assert values == sorted(values, reverse=True)
    summary = demo.summary()
    assert values[0] == summary["incoming"] - summary["by_design"]  # the emails meant to become cases
    assert values[-1] == summary["converted"]
    assert funnel.texttemplate == "%{value:,d} (%{percentInitial:.0%})"  # one number format: 15,934, never 15.934k
    assert list(funnel.marker.color[:len(CAUSES)]) == [cause.color for cause in CAUSES]


def test_snapshot_text_is_escaped_for_plotly(hostile):
    figure = charts.queue_cause_heatmap(hostile)
    labels = " ".join(figure.data[0].x)
    assert "<a " not in labels and "<b>" not in labels
    assert "Help&lt;b&gt;desk&lt;/b&gt; &lt;a href=" in labels
    html = figure.to_html(include_plotlyjs=False)
    assert "<a href=\"https://evil.example" not in html


def test_plain_escapes_only_what_plotly_would_parse():
    assert charts.plain("<script>a & b</script>") == "&lt;script&gt;a &amp; b&lt;/script&gt;"
    assert charts.plain(None) == ""


def test_an_all_converted_report_gives_empty_but_titled_charts(demo):
    from diagnostics.report import Report

    converted = demo.emails[demo.emails["verdict"] == "converted"]
    report = Report(tables=demo.tables, missing_tables=[], emails=converted, causes=demo.causes.iloc[:0],
                    evidence=demo.evidence.iloc[:0], notes=demo.notes.iloc[:0], unchecked=demo.unchecked.iloc[:0],
                    findings=[], queues=demo.queues)
    for figure in charts.overview_figures(report).values():
        assert figure.layout.title.text


def test_unexplained_emails_are_grey():
    from diagnostics.app_state import cause_color

    assert cause_color(None) == UNEXPLAINED_COLOR
    assert UNEXPLAINED_COLOR not in COLORS.values()


def test_hop_delays_chart():
    result = {"hops": [{"from": "a", "by": "mx.<b>x</b>.com", "with": "SMTP", "at": "2026-11-04T10:00:05Z",
                        "delay_seconds": 5}, {"from": "b", "by": "c", "at": None, "delay_seconds": None}]}
    figure = charts.hop_delays(result)
    titled(figure)
    assert list(figure.data[0].y) == [5, 0]
    assert "<b>" not in " ".join(figure.data[0].x)
    assert charts.hop_delays({"hops": []}).layout.title.text
