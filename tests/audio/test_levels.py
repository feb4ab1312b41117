"""Levels of several blocks at once are exactly the per-block levels (the playback drain relies on it)."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.audio.levels import measure, measure_blocks


@pytest.mark.parametrize("lengths", [[480, 480, 480, 480], [480, 240, 480], [482, 482]])
def test_measure_blocks_matches_measure_per_block(lengths: list[int]) -> None:
    pcm = np.random.default_rng(4).normal(0, 5000, sum(lengths)).clip(-32768, 32767).astype(np.int16)
    times = [1.0 + 0.01 * i for i in range(len(lengths))]
    monotonics = [50.0 + 0.01 * i for i in range(len(lengths))]
    together = measure_blocks(pcm, lengths, times, monotonics, bins=8)
    starts = np.cumsum([0, *lengths[:-1]])
    one_by_one = [measure(pcm[s : s + n], t, m, 8)
                  for s, n, t, m in zip(starts, lengths, times, monotonics, strict=True)]
    assert len(together) == len(one_by_one)
    for a, b in zip(together, one_by_one, strict=True):
        assert (a.time, a.monotonic, a.peak) == (b.time, b.monotonic, b.peak)
        assert a.rms == pytest.approx(b.rms, rel=1e-5)
        assert np.array_equal(a.mins, b.mins) and np.array_equal(a.maxs, b.maxs)
