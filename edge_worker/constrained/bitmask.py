"""llguidance token bitmasks (int32 words, bit i of the vocabulary = token i allowed) as boolean vocabulary masks."""

from __future__ import annotations

import numpy as np


def allowed_tokens(bitmask: np.ndarray, vocab_size: int) -> np.ndarray:
    """The boolean mask, shape (vocab_size,), of the first row of `bitmask`."""
    bits = np.unpackbits(bitmask.view(np.uint8), bitorder="little")
    return bits[:vocab_size].astype(bool)


def store_allowed(bitmask: np.ndarray, allowed: np.ndarray) -> None:
    """Write a boolean vocabulary mask into the first row of `bitmask`."""
    padded = np.zeros(bitmask.shape[1] * 32, dtype=bool)
    padded[: len(allowed)] = allowed
    bitmask[0] = np.packbits(padded, bitorder="little").view(np.int32)


def allow_only(bitmask: np.ndarray, token: int) -> None:
    bitmask[0] = 0
    bitmask[0, token // 32] = np.uint32(1 << (token % 32)).view(np.int32)
