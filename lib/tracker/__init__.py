"""Test-time trackers and the benchmark runner."""

from lib.tracker.stark_tracker import StarkTracker, clip_box, map_box_back, update_intervals

__all__ = ["StarkTracker", "clip_box", "map_box_back", "update_intervals"]
