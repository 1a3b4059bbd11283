"""The pix2pix networks: a U-Net generator and a PatchGAN discriminator.

Sized for CPU fine-tuning: ``ngf`` and a channel cap keep the 128 px generator at a few
million parameters, while depth follows the resolution so the bottleneck is always
4x4 (a 512 px model simply has more levels).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cloud.training.errors import TrainingError

RESOLUTIONS = (128, 256, 512)
BOTTLENECK = 4  # spatial size of the innermost U-Net level


def unet_depth(resolution: int) -> int:
    """Number of down-sampling levels: 128 -> 5, 256 -> 6, 512 -> 7."""
    if resolution not in RESOLUTIONS:
        raise TrainingError(f"resolution {resolution} unsupported: use one of {RESOLUTIONS}")
    return int(math.log2(resolution // BOTTLENECK))


def _norm(channels: int) -> nn.Module:
    # Instance norm: batch statistics are meaningless at the batch sizes a CPU affords.
    return nn.InstanceNorm2d(channels, affine=True)


class _Down(nn.Sequential):
    def __init__(self, cin: int, cout: int, *, norm: bool) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm)]
        if norm:
            layers.append(_norm(cout))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        super().__init__(*layers)


class _Up(nn.Sequential):
    def __init__(self, cin: int, cout: int, *, dropout: bool) -> None:
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
            _norm(cout),
            nn.ReLU(inplace=True),
        ]
        if dropout:
            layers.append(nn.Dropout(0.5))
        super().__init__(*layers)


class UNetGenerator(nn.Module):
    """pix2pix U-Net: pose map (+ optional previous frame) in, RGB in [-1, 1] out."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        *,
        resolution: int = 128,
        ngf: int = 32,
        max_channels: int = 256,
        dropout: bool = False,
    ) -> None:
        super().__init__()
        depth = unet_depth(resolution)
        widths = [min(ngf * 2**i, max_channels) for i in range(depth)]
        self.downs = nn.ModuleList()
        cin = in_channels
        for i, w in enumerate(widths):
            # No norm on the first level (pix2pix) nor the 4x4 bottleneck.
            self.downs.append(_Down(cin, w, norm=0 < i < depth - 1))
            cin = w
        self.ups = nn.ModuleList()
        for i in reversed(range(1, depth)):
            skip_in = widths[i] if i == depth - 1 else widths[i] * 2
            # Dropout (pix2pix's noise) only on the coarsest decoder levels.
            self.ups.append(_Up(skip_in, widths[i - 1], dropout=dropout and i >= depth - 3))
        self.out = nn.Sequential(
            nn.ConvTranspose2d(widths[0] * 2, out_channels, 4, 2, 1), nn.Tanh()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        skips.pop()  # the bottleneck feeds the first up level directly
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)
        return self.out(x)


class PatchDiscriminator(nn.Module):
    """70x70-style PatchGAN on (condition, image) pairs.

    ``forward`` returns every intermediate activation and the patch logits last, so
    the generator can be trained with a feature-matching loss on the same pass.
    """

    def __init__(self, in_channels: int = 6, *, ndf: int = 32, n_layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True))
        ]
        cin = ndf
        for i in range(1, n_layers + 1):
            cout = ndf * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(cin, cout, 4, stride, 1, bias=False),
                    _norm(cout),
                    nn.LeakyReLU(0.2, True),
                )
            )
            cin = cout
        blocks.append(nn.Conv2d(cin, 1, 4, 1, 1))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> list[torch.Tensor]:
        x = torch.cat([condition, image], dim=1)
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """pix2pix initialisation: N(0, 0.02) convs, N(1, 0.02) norm scales."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.InstanceNorm2d) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
