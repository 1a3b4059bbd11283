"""Image quality measures on held-out frames: SSIM, MS-SSIM and PSNR, in plain torch.

No torchvision and no pretrained perceptual networks (neither can be loaded here).
Images are ``[N, C, H, W]`` floats in ``[0, 1]``; every function returns one value per
image so callers can average over frames or report spreads. Everything stays on the
images' device: :func:`quality` and :func:`region_quality` return 0-dim tensors, so a
caller on a GPU reads all its numbers in one transfer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812

# Wang et al. 2004 constants for a data range of 1.
_C1 = 0.01**2
_C2 = 0.03**2
# Wang et al. 2003 scale weights for 5-scale MS-SSIM.
MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def _check(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"expected two [N, C, H, W] images of one shape, got {a.shape}, {b.shape}")


def _gaussian_1d(size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: torch.Tensor, window: int, sigma: float) -> torch.Tensor:
    """The Gaussian window's local means, as two 1-D passes: the same numbers as the 2-D
    window (it is separable) for 2/window of the work; at 256 px a held-out evaluation
    spent most of its time here."""
    c = x.shape[1]
    g = _gaussian_1d(window, sigma, x)
    x = F.conv2d(x, g.view(1, 1, 1, window).expand(c, 1, 1, window).contiguous(), groups=c)
    return F.conv2d(x, g.view(1, 1, window, 1).expand(c, 1, window, 1).contiguous(), groups=c)


def _ssim_parts(
    a: torch.Tensor, b: torch.Tensor, window: int, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean SSIM and mean contrast-structure term (for MS-SSIM)."""
    mu_a, mu_b, aa, bb, ab = _blur(
        torch.cat([a, b, a * a, b * b, a * b], dim=1), window, sigma
    ).chunk(5, dim=1)
    var_a = aa - mu_a**2
    var_b = bb - mu_b**2
    cov = ab - mu_a * mu_b
    cs = (2 * cov + _C2) / (var_a + var_b + _C2)
    lum = (2 * mu_a * mu_b + _C1) / (mu_a**2 + mu_b**2 + _C1)
    return (lum * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def ssim(a: torch.Tensor, b: torch.Tensor, *, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity per image (1 = identical). Images smaller than the window
    use a window of their own size."""
    _check(a, b)
    w = min(window, a.shape[-1], a.shape[-2])
    return _ssim_parts(a.float(), b.float(), w, sigma * w / window)[0]


def ms_ssim(a: torch.Tensor, b: torch.Tensor, *, window: int = 11) -> torch.Tensor:
    """Multi-scale SSIM per image, with as many of the 5 scales as the size allows.

    At 128 px only 4 scales keep the coarsest level at least one window wide; the
    weights of the scales used are renormalised to sum to 1.
    """
    _check(a, b)
    a, b = a.float(), b.float()
    side = min(a.shape[-2:])
    scales = 1
    while scales < len(MS_WEIGHTS) and side // 2**scales >= window:
        scales += 1
    weights = torch.tensor(MS_WEIGHTS[:scales], device=a.device)
    weights = weights / weights.sum()
    values = []
    for s in range(scales):
        full, cs = _ssim_parts(a, b, window, 1.5)
        # Negative contrast-structure (anti-correlated patches) would make the power NaN.
        values.append((full if s == scales - 1 else cs).clamp(min=1e-6))
        if s < scales - 1:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    stacked = torch.stack(values, dim=1)
    return torch.prod(stacked ** weights[None, :], dim=1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image (capped at 100 dB for identical images)."""
    _check(a, b)
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp(min=1e-10))).clamp(max=100.0)


def quality(a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean SSIM / MS-SSIM / PSNR over a batch (0-dim tensors on the images' device)."""
    return {"ssim": ssim(a, b).mean(), "ms_ssim": ms_ssim(a, b).mean(), "psnr": psnr(a, b).mean()}


def region_quality(
    a: torch.Tensor, b: torch.Tensor, boxes: torch.Tensor, *, min_side: int = 16
) -> dict[str, torch.Tensor]:
    """Like :func:`quality` but each image cropped to its box ``(x0, y0, x1, y1)``.

    The dancer fills only part of the frame; the background is easy, so full-frame
    numbers flatter the model. Boxes are grown to ``min_side`` so SSIM has room.
    """
    _check(a, b)
    h, w = a.shape[-2:]
    scores: dict[str, list[torch.Tensor]] = {"ssim": [], "ms_ssim": [], "psnr": []}
    # Boxes are host data (read once, not per image); the crops differ in size, so each
    # image is scored on its own, on the device.
    for i, (x0, y0, x1, y1) in enumerate(boxes.cpu().tolist()):
        x0, x1 = _grow(int(x0), int(x1), min_side, w)
        y0, y1 = _grow(int(y0), int(y1), min_side, h)
        q = quality(a[i : i + 1, :, y0:y1, x0:x1], b[i : i + 1, :, y0:y1, x0:x1])
        for k, v in q.items():
            scores[k].append(v)
    return {k: torch.stack(v).mean() for k, v in scores.items()}


def _grow(lo: int, hi: int, min_side: int, limit: int) -> tuple[int, int]:
    lo, hi = max(0, lo), min(limit, hi)
    if hi - lo < min_side:
        mid = (lo + hi) // 2
        lo = max(0, min(mid - min_side // 2, limit - min_side))
        hi = min(limit, lo + min_side)
    return lo, hi
