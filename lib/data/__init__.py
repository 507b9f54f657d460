"""Data: benchmark datasets, image sources (folder/lmdb), sampler, processing, loader, synthetic generator."""
