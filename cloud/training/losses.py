"""pix2pix objectives: adversarial (LSGAN or vanilla), L1 and discriminator feature matching;
for dancer-only generators an L1 on the person region and one of the alpha channel against
the person mask.

Shared by the Lightning module and the plain-PyTorch benchmark loop, so both train
exactly the same thing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812

from cloud.training.config import GanMode
from cloud.training.networks import PatchDiscriminator


def adversarial(logits: torch.Tensor, target_real: bool, mode: GanMode) -> torch.Tensor:
    target = torch.ones_like(logits) if target_real else torch.zeros_like(logits)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


def discriminator_loss(
    disc: PatchDiscriminator,
    condition: torch.Tensor,
    real: torch.Tensor,
    fake: torch.Tensor,
    mode: GanMode,
) -> dict[str, torch.Tensor]:
    """D learns real pairs from fake ones; ``fake`` must already be detached."""
    d_real = adversarial(disc(condition, real)[-1], True, mode)
    d_fake = adversarial(disc(condition, fake)[-1], False, mode)
    return {"d_real": d_real, "d_fake": d_fake, "d_loss": 0.5 * (d_real + d_fake)}


def generator_loss(
    disc: PatchDiscriminator,
    condition: torch.Tensor,
    real: torch.Tensor,
    fake: torch.Tensor,
    mode: GanMode,
    *,
    lambda_l1: float,
    lambda_fm: float,
    drawn: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Fool D, stay close to the real frame (L1), and match D's features of the real
    frame (pix2pixHD) — the stand-in for a perceptual loss we cannot download.

    ``fake`` is what D sees. The L1 compares ``drawn`` (default ``fake``) with the real
    frame, weighted per pixel by ``weight`` ``[B, 1, H, W]`` when given (the person
    region of a dancer-only generator: its mean over that region)."""
    fake_feats = disc(condition, fake)
    g_gan = adversarial(fake_feats[-1], True, mode)
    g_l1 = weighted_l1(fake if drawn is None else drawn, real, weight)
    if lambda_fm > 0:
        with torch.no_grad():
            real_feats = disc(condition, real)
        g_fm = sum(
            (F.l1_loss(f, r) for f, r in zip(fake_feats[:-1], real_feats[:-1], strict=True)),
            torch.zeros((), device=fake.device),
        ) / max(1, len(fake_feats) - 1)
    else:
        g_fm = torch.zeros((), device=fake.device)
    total = g_gan + lambda_l1 * g_l1 + lambda_fm * g_fm
    return {"g_gan": g_gan, "g_l1": g_l1, "g_fm": g_fm, "g_loss": total}


def weighted_l1(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean absolute difference, over the pixels ``weight`` selects (all if None)."""
    if weight is None:
        return F.l1_loss(a, b)
    diff = (a - b).abs().mean(dim=1, keepdim=True)
    return (diff * weight).sum() / weight.sum().clamp(min=1.0)


def alpha_loss(alpha: torch.Tensor, mask: torch.Tensor, has_mask: torch.Tensor) -> torch.Tensor:
    """L1 of the alpha channel (``[B, 1, H, W]`` in ``[0, 1]``) against the person mask,
    over the samples that have a mask (``has_mask`` ``[B]``, 0/1)."""
    per_sample = (alpha - mask).abs().flatten(1).mean(1)
    return (per_sample * has_mask).sum() / has_mask.sum().clamp(min=1.0)
