"""Evaluation: result files, per-benchmark metric conventions, analysis tables and plots, submission packing."""
