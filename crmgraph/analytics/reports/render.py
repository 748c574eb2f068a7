"""A report as a picture: its chart above its table, on one page, as PNG or PDF (matplotlib, Agg backend).

matplotlib is imported when a picture is first asked for (it takes a second to load), and only its
object API is used (no pyplot state), so pictures may be drawn in threads; one at a time, as matplotlib's
font cache is shared.
"""

from __future__ import annotations

import io
import threading
from typing import Any

from crmgraph.analytics.reports.tabular import Chart, Table

MAX_TABLE_ROWS = 22  # what fits under the chart; the CSV has every row
# Customer names are often Chinese or Japanese: matplotlib falls back glyph by glyph along this list, so a CJK
# font installed on the server (Debian: fonts-noto-cjk) draws them; without one they show as boxes.
FONTS = ["DejaVu Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei"]
_drawing = threading.Lock()


def picture(title: str, subtitle: str, chart: Chart, table: Table, image_format: str) -> bytes:
    """The page as ``png`` or ``pdf`` bytes; ``title`` is drawn on it and written in the file's metadata."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _drawing, rc_context({"font.family": "sans-serif", "font.sans-serif": FONTS}):
        figure = Figure(figsize=(11.69, 8.27), dpi=100)  # A4 landscape
        FigureCanvasAgg(figure)
        figure.suptitle(title, fontsize=16, fontweight="bold")
        figure.text(0.5, 0.93, subtitle, ha="center", fontsize=9, color="#555555")
        axes = figure.add_axes((0.08, 0.58, 0.88, 0.30))
        _bars(axes, chart)
        grid = figure.add_axes((0.02, 0.02, 0.96, 0.46))
        grid.axis("off")
        _table(grid, table)
        out = io.BytesIO()
        metadata = (
            {"Title": title, "Software": "crmgraph"}
            if image_format == "png"
            else {"Title": title, "Creator": "crmgraph"}
        )
        figure.savefig(out, format=image_format, metadata=metadata)
        return out.getvalue()


def _bars(axes: Any, chart: Chart) -> None:
    positions = list(range(len(chart.labels)))
    axes.bar(positions, chart.values, color="#3a6ea5")
    axes.set_xticks(positions, [label[:18] for label in chart.labels], rotation=20, ha="right", fontsize=8)
    axes.set_title(chart.title, fontsize=11)
    axes.set_ylabel(chart.unit)
    if not chart.labels:
        axes.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=axes.transAxes, color="#888888")


def _table(axes: Any, table: Table) -> None:
    rows = table.rows[:MAX_TABLE_ROWS]
    if not rows:
        axes.text(0.5, 0.5, "no rows", ha="center", va="center", transform=axes.transAxes)
        return
    text = [[_short(row.get(column, "")) for column in table.columns] for row in rows]
    drawn = axes.table(cellText=text, colLabels=[_short(c) for c in table.columns], loc="upper center", cellLoc="right")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(6)
    drawn.scale(1, 1.0)


def _short(found: Any) -> str:
    if isinstance(found, float):
        return f"{found:.3g}" if abs(found) < 1000 else f"{found:,.0f}"
    shown = str(found)
    return shown if len(shown) <= 18 else shown[:17] + "…"
