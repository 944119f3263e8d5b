"""``acd report --chart``: service level and offered calls per interval, against the target.

matplotlib is imported lazily with the Agg backend (no display, no Tk), so the rest of
``acd`` neither needs it installed nor pays its import time.
"""

from __future__ import annotations

from pathlib import Path

from acd.metrics.reports import Report
from acd.metrics.render import row_label


class ChartError(Exception):
    pass


def write_chart(report: Report, path: str | Path, target: float) -> None:
    """Bars: offered calls (right axis); line: service level % (left axis); dashed: target."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ChartError("--chart needs matplotlib (pip install matplotlib)") from None
    labels = [row_label(row, report.params.interval) for row in report.rows]
    offered = [row.figures.offered for row in report.rows]
    levels = [None if row.figures.service_level is None else float(row.figures.service_level) for row in report.rows]
    positions = list(range(len(labels)))
    figure, sl_axis = plt.subplots(figsize=(max(8.0, 0.35 * len(labels)), 4.5), dpi=100)
    try:
        calls_axis = sl_axis.twinx()
        calls_axis.bar(positions, offered, color="#c7d7ea", label="offered calls")
        calls_axis.set_ylabel("offered calls")
        sl_axis.set_zorder(calls_axis.get_zorder() + 1)
        sl_axis.patch.set_visible(False)
        points = [(x, y) for x, y in zip(positions, levels) if y is not None]
        if points:
            sl_axis.plot([x for x, _ in points], [y for _, y in points], marker="o", color="#1f4e79", label="service level %")
        sl_axis.axhline(target, color="#c00000", linestyle="--", label=f"target {target:g} %")
        sl_axis.set_ylim(0, 105)
        sl_axis.set_ylabel(f"service level % (within {report.params.threshold_s:g} s)")
        step = max(1, len(labels) // 24)
        sl_axis.set_xticks(positions[::step])
        sl_axis.set_xticklabels(labels[::step], rotation=45, ha="right", fontsize=8)
        sl_axis.legend(loc="lower left", fontsize=8)
        title = f"Service level {labels[0] if labels else ''} .. {labels[-1] if labels else ''}"
        if report.params.queue:
            title += f" — queue {report.params.queue}"
        sl_axis.set_title(title)
        figure.tight_layout()
        figure.savefig(str(path), format="png")
    except OSError as exc:
        raise ChartError(f"cannot write chart {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(figure)


__all__ = ["ChartError", "write_chart"]
