"""The HTML report's charts as plain data for its template: bars as widths, the daily trend as SVG shapes.

The standalone report draws its charts with HTML and inline SVG instead of embedding Plotly: plotly.js alone
is 4.8 MB, which made a 400-email report 5 MB and slow to open. Same aggregates as the app's charts
(``app_state``), same colours, the emails working as designed left out the same way. The template escapes
every string (queue names come from the snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .app_state import (
    NO_QUEUE,
    cause_color,
    cause_label,
    daily_counts,
    funnel,
    primary_cause_counts,
    queue_cause_matrix,
    queue_names,
)
from .report import Report

TREND_WIDTH, TREND_HEIGHT, TREND_LEFT, TREND_BOTTOM = 960, 260, 40, 24
HEATMAP_QUEUES = 30


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    share: float  # 0..1 of the longest bar
    color: str
    note: str = ""


def cause_bars(report: Report) -> list[Bar]:
    counts = primary_cause_counts(report)
    top = max(int(counts["count"].max()), 1) if not counts.empty else 1
    return [Bar(row.label, int(row.count), row.count / top, row.color) for row in counts.itertuples()]


def funnel_bars(report: Report) -> list[Bar]:
    stages = funnel(report)
    start = int(stages["remaining"].iloc[0] + stages["dropped"].iloc[0]) if not stages.empty else 0
    if not start:
        return []
    bars = [Bar("Incoming, meant to become cases", start, 1.0, "#6B7280")]
    for row in stages.itertuples():
        color = cause_color(row.cause) if isinstance(row.cause, str) else "#2E7D32"
        lost = (f"{int(row.dropped):,} stopped: {cause_label(row.cause)}" if isinstance(row.cause, str)
                else f"{int(row.dropped):,} not converted and unexplained")
        bars.append(Bar(row.stage, int(row.remaining), row.remaining / start, color,
                        f"{row.remaining / start:.0%} · {lost}" if row.dropped else f"{row.remaining / start:.0%}"))
    return bars


@dataclass(frozen=True)
class Trend:
    width: int
    height: int
    rects: list[dict]  # x, y, w, h, color, title
    line: str  # SVG polyline points of the incoming emails per day
    ticks: list[dict]  # x, text (days) and y, text (counts)
    counts: list[dict]
    legend: list[tuple[str, str]]  # colour, cause label


def daily_trend(report: Report) -> Trend | None:
    """Emails needing action per day stacked by primary cause, with the incoming emails as a line."""
    long, totals = daily_counts(report)
    if totals.empty:
        return None
    days = pd.date_range(totals["day"].min(), totals["day"].max(), freq="D")
    slot = (TREND_WIDTH - TREND_LEFT) / len(days)
    top = max(int(totals["incoming"].max()), 1)
    plot = TREND_HEIGHT - TREND_BOTTOM

    def y(value: float) -> float:
        return round(plot - value / top * (plot - 10), 1)

    index = {day: number for number, day in enumerate(days)}
    stacked = long.assign(slot=long["day"].map(index)).sort_values(["slot"], kind="stable")
    stacked["base"] = stacked.groupby("slot")["count"].cumsum() - stacked["count"]
    rects = [{"x": round(TREND_LEFT + row.slot * slot + slot * 0.15, 1), "y": y(row.base + row.count),
              "w": round(slot * 0.7, 1), "h": round(y(row.base) - y(row.base + row.count), 1),
              "color": cause_color(row.cause), "title": f"{row.day:%Y-%m-%d}: {row.count} · {cause_label(row.cause)}"}
             for row in stacked.itertuples()]
    line = " ".join(f"{round(TREND_LEFT + index[day] * slot + slot / 2, 1)},{y(count)}"
                    for day, count in zip(totals["day"], totals["incoming"], strict=True))
    every = max(1, -(-len(days) // 10))
    ticks = [{"x": round(TREND_LEFT + number * slot + slot / 2, 1), "text": f"{day.day} {day:%b}"}
             for number, day in enumerate(days) if number % every == 0]
    counts = [{"y": y(value), "text": f"{value:,}"} for value in _count_ticks(top)]
    causes = long.drop_duplicates("cause")["cause"]
    return Trend(TREND_WIDTH, TREND_HEIGHT, rects, line, ticks, counts,
                 [(cause_color(cause), cause_label(cause)) for cause in causes])


def _count_ticks(top: int) -> list[int]:
    step = max(1, 10 ** (len(str(top)) - 1) // (2 if top / 10 ** (len(str(top)) - 1) < 3 else 1))
    return list(range(0, top + 1, step))


@dataclass(frozen=True)
class Heatmap:
    queues: list[str]
    rows: list[dict]  # label, color, cells: [(count, shade)]
    total: int


def heatmap(report: Report) -> Heatmap | None:
    matrix = queue_cause_matrix(report, HEATMAP_QUEUES)
    if matrix.empty:
        return None
    names = queue_names(report)
    top = max(int(matrix.values.max()), 1)
    rows = [{"label": cause_label(cause), "color": cause_color(cause),
             "cells": [(int(count), round(0.08 + 0.85 * count / top, 2) if count else 0.0)
                       for count in matrix.loc[cause]]} for cause in matrix.index]
    return Heatmap([names.get(queue, NO_QUEUE if queue == NO_QUEUE else queue) for queue in matrix.columns], rows,
                   int(matrix.values.sum()))


__all__ = ["Bar", "Heatmap", "Trend", "cause_bars", "daily_trend", "funnel_bars", "heatmap"]
