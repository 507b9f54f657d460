"""Success and precision plots (PNG, matplotlib's headless Agg backend): one curve per tracker."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before pyplot loads)
import numpy as np  # noqa: E402

from lib.utils.io import atomic_write_bytes  # noqa: E402


def plot_curves(
    path: str | Path,
    thresholds: np.ndarray,
    curves: Sequence[tuple[str, np.ndarray, float]],
    title: str,
    xlabel: str,
    ylabel: str,
    score_name: str,
) -> Path:
    """Write one plot with a curve per tracker; the legend reads ``label [score_name: score]``.

    Args:
        thresholds: (T,) x values. curves: ``(label, values (T,) in percent, score)``, drawn best first.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for label, values, score in sorted(curves, key=lambda c: -c[2]):
        ax.plot(thresholds, values, linewidth=2, label=f"{label} [{score_name}: {score:.1f}]")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(thresholds[0], thresholds[-1]), ylim=(0, 100))
    ax.grid(True, linestyle=":")
    ax.legend(loc="lower left" if "Success" in title else "lower right", fontsize=8)
    return _save_png(fig, path)


def plot_radar(
    path: str | Path, axes: Sequence[str], polygons: Sequence[tuple[str, Sequence[float]]], title: str
) -> Path:
    """Write a radar (spider) plot: one spoke per entry of ``axes``, one closed polygon per ``(label, values)``.

    Values are in percent; the radius runs from 0 to the largest value rounded up to ten.
    """
    angles = np.linspace(0.0, 2.0 * np.pi, len(axes), endpoint=False)
    fig, ax = plt.subplots(figsize=(6.4, 6.4), subplot_kw={"projection": "polar"})
    top = max([10.0] + [float(v) for _, values in polygons for v in values])
    for label, values in polygons:
        closed = np.append(np.asarray(values, dtype=float), float(values[0]))
        ax.plot(np.append(angles, angles[0]), closed, linewidth=2, label=label)
        ax.fill(np.append(angles, angles[0]), closed, alpha=0.1)
    ax.set_xticks(angles)
    ax.set_xticklabels(list(axes), fontsize=8)
    ax.set_ylim(0, np.ceil(top / 10.0) * 10.0)
    ax.set_title(title)
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1), fontsize=8)
    return _save_png(fig, path)


def _save_png(fig, path: str | Path) -> Path:
    """Render ``fig`` to PNG in memory and write it atomically, so an interrupted run never leaves half a plot."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150)
    plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)
