"""pix2pix objectives: adversarial (LSGAN or vanilla), L1 and discriminator feature matching.

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
) -> dict[str, torch.Tensor]:
    """Fool D, stay close to the real frame (L1), and match D's features of the real
    frame (pix2pixHD) — the stand-in for a perceptual loss we cannot download."""
    fake_feats = disc(condition, fake)
    g_gan = adversarial(fake_feats[-1], True, mode)
    g_l1 = F.l1_loss(fake, real)
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
