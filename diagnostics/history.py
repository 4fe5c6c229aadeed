"""The History page's data: an organisation's watch runs over time, and the figure that draws them.

Built from the summaries the store keeps beside each watch run (``RunStore.watch_runs``), never from the
reports themselves, so a month of rounds every 30 minutes draws without opening 1,440 reports. Every point
carries its run id (``customdata``) so a click on it picks that run.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .app_state import cause_color, cause_title
from .charts import CONVERTED_COLOR, FONT, legend_label, plain
from .watch import converted_share

ALERT_COLOR = "#B91C1C"
ALERT_SYMBOLS = {"worse": "triangle-down", "failure": "x", "recovered": "circle-open"}


def history_frame(runs: list) -> pd.DataFrame:
    """One row per watch run (``WatchRun``), oldest first: when, its period, the share converted and the emails
    not converted per primary cause (one ``cause:<id>`` column each)."""
    rows = []
    for run in runs:
        share, expected = converted_share(run.summary)
        causes = run.summary.get("by_primary_cause") or {}
        rows.append({"run_id": run.run_id, "at": run.created_at, "period": f"{run.period_start} to {run.period_end}",
                     "share": None if share is None else round(share * 100, 1), "expected": expected,
                     "not_converted": int(run.summary.get("not_converted") or 0),
                     **{f"cause:{cause}": int(count) for cause, count in causes.items()}})
    frame = pd.DataFrame(rows, columns=["run_id", "at", "period", "share", "expected", "not_converted"]
                         + sorted({key for row in rows for key in row if key.startswith("cause:")}))
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    causes = [column for column in frame.columns if column.startswith("cause:")]
    frame[causes] = frame[causes].fillna(0).astype(int)
    return frame


def run_label(row: pd.Series | dict) -> str:
    """"2026-12-07 08:30 UTC · 61% became cases": how a run is named in the pickers."""
    share = "—" if pd.isna(row["share"]) else f"{row['share']:.0f}%"
    return f"{pd.Timestamp(row['at']):%Y-%m-%d %H:%M} UTC · {share} became cases"


def history_figure(frame: pd.DataFrame, alerts: list) -> go.Figure:
    """Two panels sharing the time axis: the share of emails that became cases (with the alerts sent) above,
    the emails not converted per cause below. A point's ``customdata`` is its run id."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.45, 0.55],
                           subplot_titles=("Share of emails that became cases (%)",
                                           "Emails not converted, per primary cause"))
    labels = [run_label(row) for _, row in frame.iterrows()]  # one per run: a few hundred at most
    figure.add_trace(go.Scatter(
        x=frame["at"], y=frame["share"], mode="lines+markers", name="became cases", customdata=frame["run_id"],
        line={"color": CONVERTED_COLOR, "width": 2}, marker={"size": 9}, text=[plain(label) for label in labels],
        hovertemplate="%{text}<extra></extra>"), row=1, col=1)
    for column in [column for column in frame.columns if column.startswith("cause:")]:
        cause = column.removeprefix("cause:")
        figure.add_trace(go.Scatter(
            x=frame["at"], y=frame[column], mode="lines+markers", name=legend_label(cause),
            customdata=frame["run_id"], line={"color": cause_color(cause)}, marker={"size": 7},
            hovertemplate=f"{plain(cause_title(cause))}: %{{y}}<extra></extra>"), row=2, col=1)
    _alert_markers(figure, alerts)
    figure.update_yaxes(range=[0, 105], row=1, col=1)
    figure.update_yaxes(rangemode="tozero", row=2, col=1)
    figure.update_layout(height=620, margin={"l": 10, "r": 10, "t": 40, "b": 10}, font={"family": FONT},
                         legend={"orientation": "h", "y": -0.12}, hovermode="closest", dragmode=False,
                         hoverlabel={"align": "left"})
    return figure


def _alert_markers(figure: go.Figure, alerts: list) -> None:
    """The alerts sent, as marks on top of the share panel (hover: their title)."""
    for kind, symbol in ALERT_SYMBOLS.items():
        mine = [alert for alert in alerts if alert.kind == kind]
        if mine:
            figure.add_trace(go.Scatter(
                x=pd.to_datetime([alert.sent_at for alert in mine], utc=True), y=[102] * len(mine), mode="markers",
                name=f"alert: {kind}", marker={"symbol": symbol, "size": 12, "color": ALERT_COLOR},
                text=[plain(alert.title) for alert in mine], hovertemplate="%{text}<extra></extra>"), row=1, col=1)
