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
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150)
    plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)
