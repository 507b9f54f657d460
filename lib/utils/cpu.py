"""What the CPU offers that changes which settings are fast."""

from __future__ import annotations

import torch


def has_fast_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX).

    There, bf16 autocast makes the CPU demo's training steps ~1.6x faster (0.69 -> 0.45 s per step,
    ``scripts/bench/train_step.py --config cpu_demo --batch 16 --amp none bf16 --threads 2``); elsewhere
    bf16 is emulated and slower than fp32. torch exposes the checks only as private helpers, hence the
    guarded lookup: an older or newer torch without them counts as "no".
    """
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)
