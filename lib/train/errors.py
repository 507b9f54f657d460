"""Exceptions of the training code; entry points turn them into one-line messages and exit codes."""

from __future__ import annotations


class TrainSetupError(ValueError):
    """The run cannot start (missing stage-1 checkpoint, unusable resume file, ...); exit code 2."""


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite on some rank; every rank raises it in the same step."""

    def __init__(self, epoch: int, iteration: int, terms: dict[str, float]) -> None:
        self.epoch = epoch
        self.iteration = iteration
        self.terms = dict(terms)
        listed = ", ".join(f"{name}={value:.6g}" for name, value in terms.items())
        super().__init__(f"non-finite loss at epoch {epoch}, iteration {iteration} (all-reduced terms: {listed})")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``Trainer.fit``; ``epoch`` is the epoch that was running (earlier ones are saved)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        super().__init__(f"interrupted at epoch {epoch}")
