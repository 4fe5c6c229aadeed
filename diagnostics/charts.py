"""Plotly figures of a ``Report``: the overview's charts, also embedded in the HTML export.

Every figure is built from aggregates (``app_state``), never from one trace point per email, so it
costs the same for a million emails as for a hundred. Each cause keeps its registry colour in every
chart and is named by its title with its contract id.

Plotly renders a small set of HTML tags inside labels and hover texts (links among them), so every
string that comes from the snapshot (queue names, subjects, host names) goes through ``plain`` first.
"""

from __future__ import annotations

import html
import textwrap

import pandas as pd
import plotly.graph_objects as go

from .app_state import (
    NO_QUEUE,
    UNEXPLAINED,
    cause_color,
    cause_counts,
    cause_label,
    cause_title,
    daily_counts,
    funnel,
    primary_cause_counts,
    queue_cause_matrix,
    queue_names,
)
from .report import Report

FONT = "Source Sans Pro, Segoe UI, Helvetica, Arial, sans-serif"
CONVERTED_COLOR = "#2E7D32"
INCOMING_COLOR = "#6B7280"  # a mid grey: readable on the light and the dark theme


def plain(text: object) -> str:
    """A string shown literally by Plotly: its HTML-like tags escaped (Plotly decodes &lt; &gt; &amp;)."""
    return html.escape("" if text is None else str(text), quote=False)


def wrapped_label(cause_id: str | None, width: int = 34) -> str:
    """"Title<br>(cause-id)" with the title wrapped, for axis labels."""
    title = "<br>".join(_wrap(plain(cause_title(cause_id)), width)) or plain(cause_id)
    return f"{title}<br><b>({plain(cause_id or UNEXPLAINED)})</b>"


def legend_label(cause_id: str | None) -> str:
    """The cause id alone: a legend of one short line per cause fits a narrow screen under the day axis (the
    title is in the hover label and in the causes chart beside it, in the same colour)."""
    return plain(cause_id or UNEXPLAINED)


def _layout(figure: go.Figure, title: str, height: int, **extra: object) -> go.Figure:
    figure.update_layout(title={"text": title, "x": 0, "xanchor": "left"}, height=height,
                         margin={"l": 10, "r": 10, "t": 60, "b": 10}, font={"family": FONT},
                         hoverlabel={"align": "left"}, **extra)
    return figure


def _counts_axis(axis: dict, largest: float) -> dict:
    """Whole numbers on a count axis: one tick per unit when counts are small."""
    return {**axis, "dtick": 1} if largest <= 8 else {**axis, "tickformat": ",d"}


def _day_axis(days: pd.Series) -> dict:
    """Ticks on whole days (never hours), at most about a dozen of them."""
    span = max(1, (days.max() - days.min()).days + 1) if len(days) else 1
    return {"type": "date", "tickformat": "%b %d", "dtick": 86_400_000 * max(1, -(-span // 12))}


def _empty(title: str, message: str, height: int = 320) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=plain(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return _layout(figure, title, height)


def cause_bars(report: Report) -> go.Figure:
    """Emails needing action per primary cause, most frequent on top; each bar carries its cause id. Emails
    working as designed are left out (the Overview counts them apart)."""
    title = "Why emails did not become cases"  # short: whole on a phone; the page says by-design is left out
    counts = primary_cause_counts(report)
    if counts.empty:
        return _empty(title, "No email needs action: every incoming email became a case or is working as "
                             "designed.")
    labels = [wrapped_label(cause) for cause in counts["cause"]]
    figure = go.Figure(go.Bar(
        x=counts["count"], y=labels, orientation="h", marker={"color": list(counts["color"])},
        text=counts["count"], textposition="auto", cliponaxis=False,
        customdata=list(zip(counts["cause"], [plain(label) for label in counts["label"]], strict=True)),
        hovertemplate="%{customdata[1]}<br>%{x} emails<extra>click to list them</extra>"))
    figure.update_yaxes(title_text="Primary cause", autorange="reversed", automargin=True)
    figure.update_xaxes(**_counts_axis({"title_text": "Emails", "rangemode": "tozero"},
                                       counts["count"].max()))
    return _layout(figure, title, max(320, 90 + 58 * len(counts)), showlegend=False, dragmode=False)


def daily_trend(report: Report) -> go.Figure:
    """Emails per UTC day: not-converted stacked by primary cause, with the incoming total as a line."""
    title = "Daily: emails needing action, by cause"
    long, totals = daily_counts(report)
    if totals.empty:
        return _empty(title, "No incoming emails with a date.")
    figure = go.Figure()
    for cause, rows in long.groupby("cause", sort=False):
        figure.add_bar(x=rows["day"], y=rows["count"], name=legend_label(cause),
                       marker={"color": cause_color(cause)}, customdata=[cause] * len(rows),
                       hovertemplate="%{x|%Y-%m-%d}: %{y} emails<extra>" + plain(cause_label(cause)) + "</extra>")
    figure.add_scatter(x=totals["day"], y=totals["incoming"], name="All incoming emails", mode="lines+markers",
                       line={"color": INCOMING_COLOR, "width": 1.5}, marker={"size": 4},
                       hovertemplate="%{x|%Y-%m-%d}: %{y} incoming<extra></extra>")
    figure.add_scatter(x=totals["day"], y=totals["converted"], name="Converted to a case", mode="lines",
                       line={"color": CONVERTED_COLOR, "width": 1.5, "dash": "dot"},
                       hovertemplate="%{x|%Y-%m-%d}: %{y} converted<extra></extra>")
    figure.update_xaxes(title_text="Day received (UTC)", **_day_axis(totals["day"]))
    figure.update_yaxes(**_counts_axis({"title_text": "Emails", "rangemode": "tozero"}, totals["incoming"].max()))
    # The legend sits under the day axis and its title, so it never covers the dates.
    return _layout(figure, title, 560, barmode="stack", dragmode=False,
                   legend={"orientation": "h", "yanchor": "top", "y": -0.28, "x": 0, "font": {"size": 11},
                           "traceorder": "normal"})


def queue_cause_heatmap(report: Report, limit: int = 30) -> go.Figure:
    """Not-converted emails per (primary cause, target queue); clicking a cell selects (cause, queue)."""
    title = "Queues × causes (emails needing action)"
    matrix = queue_cause_matrix(report, limit)
    if matrix.empty:
        return _empty(title, "No email needs action.")
    names = queue_names(report)
    queue_labels = _unique([plain(names.get(queue, NO_QUEUE if queue == NO_QUEUE else queue))
                            for queue in matrix.columns])
    cause_labels = [f"<span style='color:{cause_color(cause)}'>■</span> {wrapped_label(cause, 28)}"
                    for cause in matrix.index]
    hover = [[f"{plain(cause_label(cause))}<br>queue {queue_labels[j]}<br>{matrix.iat[i, j]} emails"
              for j in range(matrix.shape[1])] for i, cause in enumerate(matrix.index)]
    figure = go.Figure(go.Heatmap(z=matrix.values, x=queue_labels, y=cause_labels, colorscale="Reds",
                                  text=matrix.values, texttemplate="%{text}", hoverinfo="skip",
                                  colorbar=_counts_axis({"title": {"text": "Emails"}}, matrix.values.max()),
                                  xgap=2, ygap=2))
    # An invisible marker on every cell: heat maps cannot be selected, markers can.
    xs, ys, data, texts = [], [], [], []
    for i, cause in enumerate(matrix.index):
        for j, queue in enumerate(matrix.columns):
            xs.append(queue_labels[j])
            ys.append(cause_labels[i])
            data.append([cause, queue])
            texts.append(hover[i][j])
    figure.add_scatter(x=xs, y=ys, mode="markers", customdata=data, hovertext=texts,
                       hovertemplate="%{hovertext}<extra>click to list them</extra>",
                       marker={"size": 28, "symbol": "square", "opacity": 0.01, "color": "#000000"},
                       selected={"marker": {"opacity": 0.01}}, unselected={"marker": {"opacity": 0.01}},
                       showlegend=False)
    figure.update_xaxes(title_text="Queue the email was sent to", type="category", tickangle=-45,
                        automargin=True)
    figure.update_yaxes(title_text="Primary cause", type="category", autorange="reversed", automargin=True)
    return _layout(figure, title, max(360, 160 + 70 * len(matrix.index)), dragmode=False)


def pipeline_funnel(report: Report) -> go.Figure:
    """Incoming emails left after each stage of email-to-case, in the contract's pipeline order."""
    title = "Pipeline: emails left after each stage"
    stages = funnel(report)
    if stages.empty or stages["remaining"].iloc[0] + stages["dropped"].iloc[0] == 0:
        return _empty(title, "No incoming emails.")
    colors = [cause_color(cause) if isinstance(cause, str) else CONVERTED_COLOR for cause in stages["cause"]]
    lost = [(f"{dropped} stopped here: {plain(cause_label(cause))}" if isinstance(cause, str) else
             f"{dropped} not converted and unexplained") for cause, dropped in zip(stages["cause"],
                                                                                  stages["dropped"], strict=True)]
    figure = go.Figure(go.Funnel(
        y=[plain(stage) for stage in stages["stage"]], x=stages["remaining"], marker={"color": colors},
        customdata=[[cause if isinstance(cause, str) else "", text]
                    for cause, text in zip(stages["cause"], lost, strict=True)],
        texttemplate="%{value:,d} (%{percentInitial:.0%})", connector={"line": {"color": "#BBBBBB", "width": 1}},
        hovertemplate="%{y}: %{x} emails<br>%{customdata[1]}<extra></extra>"))
    figure.update_yaxes(title_text="Stage passed", automargin=True)
    figure.update_xaxes(title_text="Emails meant to become cases")
    return _layout(figure, title, 460, showlegend=False, dragmode=False)


def cause_totals(report: Report) -> go.Figure:
    """Per cause of the registry: emails it is the primary cause of and emails it was found for."""
    title = "Emails each cause explains in this report"
    counts = cause_counts(report)
    labels = [wrapped_label(cause, 44) for cause in counts["cause"]]
    colors = [cause_color(cause) for cause in counts["cause"]]
    figure = go.Figure()
    figure.add_bar(y=labels, x=counts["primary"] - counts["by_design"], orientation="h",
                   name="Primary cause, needs action", marker={"color": colors}, customdata=counts["cause"],
                   hovertemplate="%{x} emails (primary cause, needs action)<extra></extra>")
    if counts["by_design"].any():  # a reply added to its case: the same cause, working as designed
        figure.add_bar(y=labels, x=counts["by_design"], orientation="h", name="Primary cause, working as designed",
                       marker={"color": INCOMING_COLOR}, customdata=counts["cause"],
                       hovertemplate="%{x} emails (primary cause, working as designed)<extra></extra>")
    figure.add_bar(y=labels, x=counts["found"], orientation="h", name="Found at all (also behind another cause)",
                   marker={"color": colors, "opacity": 0.4, "pattern": {"shape": "/"}}, customdata=counts["cause"],
                   hovertemplate="%{x} emails (found)<extra></extra>")
    figure.update_yaxes(title_text="Cause (pipeline order)", autorange="reversed", automargin=True)
    figure.update_xaxes(title_text="Emails", rangemode="tozero")
    return _layout(figure, title, 620, barmode="group", dragmode=False,
                   legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0})


def hop_delays(result: dict) -> go.Figure:
    """Seconds each Received hop added, oldest first (header mode)."""
    title = "Delivery hops: delay added at each server"
    hops = result.get("hops") or []
    if not hops:
        return _empty(title, "The headers have no Received lines with times.", 260)
    labels = [f"{index}. {plain(_short(hop.get('by') or '?'))}" for index, hop in enumerate(hops, start=1)]
    delays = [hop.get("delay_seconds") or 0 for hop in hops]
    hover = [f"from {plain(hop.get('from') or '?')}<br>by {plain(hop.get('by') or '?')}<br>"
             f"with {plain(hop.get('with') or '?')}<br>at {plain(hop.get('at') or '?')}" for hop in hops]
    figure = go.Figure(go.Bar(x=labels, y=delays, marker={"color": "#0072B2"}, hovertext=hover,
                              hovertemplate="%{hovertext}<br>%{y} s<extra></extra>", text=delays))
    figure.update_xaxes(title_text="Hop (receiving server)", type="category", automargin=True)
    figure.update_yaxes(title_text="Delay (seconds)", rangemode="tozero")
    return _layout(figure, title, 340, showlegend=False, dragmode=False)


def overview_figures(report: Report) -> dict[str, go.Figure]:
    """The overview's four charts, by name."""
    return {"causes": cause_bars(report), "trend": daily_trend(report),
            "heatmap": queue_cause_heatmap(report), "funnel": pipeline_funnel(report)}


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters, never breaking a word or a cause id at its hyphens."""
    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)


def _short(host: str, width: int = 32) -> str:
    host = host.split(" ")[0]
    return host if len(host) <= width else host[: width - 1] + "…"


def _unique(labels: list[str]) -> list[str]:
    """Category labels must differ: repeat names get a counter."""
    seen: dict[str, int] = {}
    result = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        result.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return result


__all__ = ["cause_bars", "cause_totals", "daily_trend", "hop_delays", "overview_figures",
           "legend_label", "pipeline_funnel", "plain",
           "queue_cause_heatmap"]


# --------------------------------------------------------------------------- comparisons (diagnostics.compare)

def _change_bars(rows: list[dict], labels: list[str], colors: list[str], title: str, per_day: bool,
                 axis_title: str) -> go.Figure:
    """Diverging horizontal bars: fewer emails blocked (left, good) or more (right)."""
    key = "delta_per_day" if per_day else "delta"
    unit = "emails per day" if per_day else "emails"
    deltas = [row[key] for row in rows]
    hover = [f"{label}<br>before {row['before_per_day' if per_day else 'before']}, after "
             f"{row['after_per_day' if per_day else 'after']} {unit}" for label, row in zip(labels, rows, strict=True)]
    figure = go.Figure(go.Bar(x=deltas, y=labels, orientation="h", marker={"color": colors},
                              text=[f"{'+' if delta > 0 else ''}{delta}" for delta in deltas],
                              textposition="auto", hovertext=hover, hoverinfo="text", cliponaxis=False))
    figure.add_vline(x=0, line={"color": INCOMING_COLOR, "width": 1})
    figure.update_yaxes(title_text=axis_title, autorange="reversed", automargin=True)
    reach = max([abs(delta) for delta in deltas] + [1]) * 1.15  # symmetric: fewer to the left, more to the right
    axis = {"title_text": f"Change in {unit} not converted (negative = fewer, better)", "range": [-reach, reach]}
    figure.update_xaxes(**(_counts_axis(axis, reach) if not per_day else axis))
    # Room for each label's lines (a cause's title wraps to three) and a gap, so labels never touch.
    lines = max(label.count("<br>") + 1 for label in labels)
    return _layout(figure, title, max(300, 130 + (18 * lines + 22) * len(rows)), showlegend=False, dragmode=False)


def comparison_by_cause(result: dict) -> go.Figure:
    title = "Change per cause: emails not converted, after minus before"
    rows = result["causes"]
    if not rows:
        return _empty(title, "No email was blocked in either run.")
    return _change_bars(rows, [wrapped_label(row["cause"]) for row in rows],
                        [cause_color(row["cause"]) for row in rows], title, result["per_day"], "Primary cause")


def comparison_by_queue(result: dict) -> go.Figure:
    title = "Change per queue: emails not converted, after minus before"
    rows = result["queues"]
    if not rows:
        return _empty(title, "No queue received email in either run.")
    key = "delta_per_day" if result["per_day"] else "delta"
    colors = [CONVERTED_COLOR if row[key] < 0 else "#B91C1C" if row[key] > 0 else "#9CA3AF" for row in rows]
    return _change_bars(rows, [plain(row["name"]) for row in rows], colors, title, result["per_day"], "Queue")
