from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cloud.training.metrics import ms_ssim, psnr, quality, region_quality, ssim


def _pair(seed: int = 0, noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(2, 3, 64, 64, generator=g)
    b = (a + noise * torch.randn(a.shape, generator=g)).clamp(0, 1)
    return a, b


def test_ssim_and_psnr_match_scikit_image() -> None:
    a, b = _pair()
    an, bn = a[0].permute(1, 2, 0).numpy(), b[0].permute(1, 2, 0).numpy()
    ref = structural_similarity(
        an,
        bn,
        channel_axis=2,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
    )
    assert float(ssim(a, b)[0]) == pytest.approx(ref, abs=1e-4)
    assert float(psnr(a, b)[0]) == pytest.approx(
        peak_signal_noise_ratio(an, bn, data_range=1), abs=1e-3
    )


def test_identical_images_score_perfectly_and_noise_lowers_scores() -> None:
    a, b = _pair(noise=0.05)
    _, c = _pair(noise=0.3)
    assert torch.allclose(ssim(a, a), torch.ones(2))
    assert torch.allclose(ms_ssim(a, a), torch.ones(2))
    assert (ssim(a, c) < ssim(a, b)).all()
    assert (ms_ssim(a, c) < ms_ssim(a, b)).all()
    assert (psnr(a, c) < psnr(a, b)).all()


def test_region_quality_scores_only_the_box() -> None:
    a = torch.zeros(1, 3, 64, 64)
    b = a.clone()
    b[..., :, 32:] = torch.rand(1, 3, 64, 32)  # damage the right half only
    left = region_quality(a, b, torch.tensor([[0, 0, 32, 64]]))
    right = region_quality(a, b, torch.tensor([[32, 0, 64, 64]]))
    assert left["psnr"] == pytest.approx(100.0)
    assert right["psnr"] < quality(a, b)["psnr"]


def test_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="one shape"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    assert np.isfinite(float(ms_ssim(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))[0]))
