from __future__ import annotations

from pathlib import Path

import torch

from cloud.training.augment import augment_batch, random_transforms
from cloud.training.batches import BatchStream
from cloud.training.config import Augment
from cloud.training.data import build_frameset
from tests.cloud.training.dancer import write_session


def _square_batch() -> dict[str, torch.Tensor]:
    """A white square on a black pose map, the same square in the frame, grey booth."""
    pose = torch.full((2, 3, 64, 64), -1.0)
    pose[:, :, 24:40, 24:40] = 1.0
    image = torch.full((2, 3, 64, 64), 0.2)
    image[:, :, 24:40, 24:40] = 0.9
    return {"pose": pose, "image": image}


def test_no_geometric_augmentation_is_the_identity() -> None:
    batch = _square_batch()
    assert augment_batch(batch, Augment(), torch.Generator()) is batch


def test_pose_and_frame_move_alike_and_borders_fill_sensibly() -> None:
    batch = _square_batch()
    out = augment_batch(
        batch, Augment(scale=0.2, shift=0.2, rotate=10), torch.Generator().manual_seed(1)
    )
    moved_pose = out["pose"][:, 0] > 0
    moved_image = out["image"][:, 0] > 0.55
    assert not torch.equal(moved_pose, batch["pose"][:, 0] > 0)  # it moved
    assert (moved_pose == moved_image).float().mean() > 0.99  # both the same way
    # What comes in from outside: nothing on the pose map, the booth's edge in the frame.
    assert out["pose"].min() >= -1.0 - 1e-5 and out["pose"][:, :, 0, 0].max() < -0.99
    assert torch.allclose(out["image"][:, :, 0, 0], torch.tensor(0.2), atol=1e-5)


def test_transforms_stay_within_their_bounds() -> None:
    theta = random_transforms(500, Augment(scale=0.1, shift=0.05), torch.Generator())
    zoom = 1 / theta[:, 0, 0]
    assert zoom.min() >= 0.9 - 1e-6 and zoom.max() <= 1.1 + 1e-6
    assert theta[:, :, 2].abs().max() <= 0.1 + 1e-6
    assert torch.allclose(theta[:, 0, 1], torch.zeros(500))  # no rotation asked


def test_a_mirrored_sample_gets_the_redrawn_pose_map(tmp_path: Path) -> None:
    """Flipping swaps left and right joints (their colours differ on the pose map), so a
    mirrored sample's pose map is the one redrawn from mirrored keypoints."""
    frames = build_frameset([write_session(tmp_path, "s1", frames=8)], 128)
    batch = next(iter(BatchStream(frames, 8, augment=Augment(flip=True), seed=3)))
    unit = lambda t: t.float() / 127.5 - 1  # noqa: E731
    mirrored = 0
    for b in range(8):
        i = next(
            i
            for i in range(len(frames))
            if torch.equal(batch["image"][b], unit(frames.images[i]))
            or torch.equal(batch["image"][b], unit(frames.images[i].flip(-1)))
        )
        if torch.equal(batch["image"][b], unit(frames.images[i].flip(-1))):
            mirrored += 1
            assert torch.equal(batch["pose"][b], unit(frames.poses_flipped[i]))
            assert not torch.equal(batch["pose"][b], unit(frames.poses[i].flip(-1)))
        else:
            assert torch.equal(batch["pose"][b], unit(frames.poses[i]))
    assert 0 < mirrored < 8
