from __future__ import annotations

import pytest
import torch
from torch import nn

from cloud.training.ema import WeightAverage


def _fill(m: nn.Module, value: float) -> nn.Module:
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(value)
    return m


def _module(value: float) -> nn.Module:
    return _fill(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)), value)


def test_average_follows_the_weights_with_a_warm_up() -> None:
    m = _module(0.0)
    avg = WeightAverage(m, decay=0.99)
    _fill(m, 1.0)
    avg.update(m, step=0)  # decay (1 + 0) / (10 + 0) = 0.1: mostly the new weights
    assert float(avg.shadow["0.weight"][0, 0]) == pytest.approx(0.9)
    for step in range(1, 2000):
        avg.update(m, step)
    assert float(avg.shadow["0.weight"][0, 0]) == pytest.approx(1.0, abs=1e-6)
    # Integer state (BatchNorm's batch count) is copied, not averaged.
    m[1].num_batches_tracked.fill_(7)
    avg.update(m, 2000)
    assert int(avg.shadow["1.num_batches_tracked"]) == 7


def test_applied_swaps_the_average_in_and_the_weights_back() -> None:
    m = _module(2.0)
    avg = WeightAverage(m, decay=0.5)
    _fill(m, 4.0)
    with avg.applied(m):
        assert float(m[0].weight.detach()[0, 0]) == 2.0
    assert float(m[0].weight.detach()[0, 0]) == 4.0
    with pytest.raises(RuntimeError, match="boom"), avg.applied(m):
        raise RuntimeError("boom")
    assert float(m[0].weight.detach()[0, 0]) == 4.0  # restored even when the block fails


def test_saved_state_is_restored_and_checked() -> None:
    m = _module(1.0)
    saved = {k: torch.full_like(v, 3) for k, v in m.state_dict().items()}
    assert float(WeightAverage(m, 0.9, saved).shadow["0.bias"][0]) == 3.0
    with pytest.raises(ValueError, match="lacks"):
        WeightAverage(m, 0.9, {"0.weight": saved["0.weight"]})
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(m, 1.0)
