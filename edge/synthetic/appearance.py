"""A dancer's looks: skin, hair, clothes and their patterns, drawn from a seed."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Literal

import numpy as np

BGR = tuple[int, int, int]
Pattern = Literal["plain", "stripes", "checks", "dots"]
HairStyle = Literal["short", "long", "bun", "shaved"]
Legwear = Literal["trousers", "shorts", "skirt"]

# Skin tones from light to dark (BGR), roughly spanning the Fitzpatrick scale.
SKIN_TONES: tuple[BGR, ...] = (
    (189, 214, 244),
    (163, 197, 234),
    (141, 180, 224),
    (116, 160, 208),
    (96, 137, 189),
    (77, 112, 160),
    (60, 88, 130),
    (45, 66, 101),
)
HAIR_COLOURS: tuple[BGR, ...] = (
    (20, 20, 25),
    (25, 40, 60),
    (35, 65, 105),
    (60, 110, 170),
    (100, 160, 210),
    (150, 150, 155),
    (40, 30, 140),
)


def _colour(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> BGR:
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(*sat), rng.uniform(*val))
    return round(b * 255), round(g * 255), round(r * 255)


@dataclass(frozen=True)
class Appearance:
    skin: BGR
    hair: BGR
    hair_style: HairStyle
    shirt: BGR
    shirt_alt: BGR  # second colour of the pattern
    shirt_pattern: Pattern
    long_sleeves: bool
    legwear: Legwear
    legwear_colour: BGR
    shoes: BGR

    @classmethod
    def from_seed(cls, rng: np.random.Generator) -> Appearance:
        styles: tuple[HairStyle, ...] = ("short", "long", "bun", "shaved")
        patterns: tuple[Pattern, ...] = ("plain", "stripes", "checks", "dots")
        legwear: tuple[Legwear, ...] = ("trousers", "trousers", "shorts", "skirt")
        return cls(
            skin=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
            hair=HAIR_COLOURS[int(rng.integers(len(HAIR_COLOURS)))],
            hair_style=styles[int(rng.integers(len(styles)))],
            shirt=_colour(rng, (0.3, 0.9), (0.35, 0.95)),
            shirt_alt=_colour(rng, (0.0, 0.6), (0.7, 1.0)),
            shirt_pattern=patterns[int(rng.integers(len(patterns)))],
            long_sleeves=bool(rng.random() < 0.4),
            legwear=legwear[int(rng.integers(len(legwear)))],
            legwear_colour=_colour(rng, (0.1, 0.7), (0.15, 0.6)),
            shoes=_colour(rng, (0.0, 0.8), (0.1, 0.95)),
        )
