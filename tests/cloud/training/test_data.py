from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cloud.training.batches import BatchStream, make_batch
from cloud.training.data import (
    build_frameset,
    crop_mask,
    holdout_indices,
    list_shards,
    read_frames,
    split,
)
from cloud.training.errors import DataError
from cloud.training.framing import Framing, FramingError
from common.posemap import pose_map
from protocol.shards import FrameMeta, read_shard, shard_bytes
from protocol.skeleton import KP
from tests.cloud.training.dancer import keypoints, render, write_session


def test_crop_is_one_square_for_the_whole_clip(session_shard: Path) -> None:
    frames = read_frames([session_shard])
    crop = Framing.around([m.keypoints for m, *_ in frames], 160, 120)
    # Every confident joint of every frame lies inside the one crop.
    for meta, *_ in frames:
        k = meta.keypoints_array()
        assert (k[:, 0] >= crop.x0).all() and (k[:, 0] < crop.x0 + crop.size).all()
        assert (k[:, 1] >= crop.y0).all() and (k[:, 1] < crop.y0 + crop.size).all()
    # Cropping a subset of the clip is a different question; the full clip's crop is
    # what every frame gets, so a frame's crop cannot jitter.
    data = build_frameset([session_shard], 64)
    again = build_frameset([session_shard], 64)
    assert torch.equal(data.images, again.images)


def test_crop_keypoints_land_on_the_resized_image() -> None:
    crop = Framing(x0=10, y0=20, size=100)
    k = np.array([[10.0, 20.0, 1.0]] * 17, np.float32)
    k[1] = (109.0, 119.0, 1.0)
    out = crop.to_pixels(k, 50)
    assert out[0, :2] == pytest.approx((-0.25, -0.25))
    assert out[1, :2] == pytest.approx((49.25, 49.25))


def test_crop_outside_the_image_replicates_edges() -> None:
    img = np.zeros((10, 10, 3), np.uint8)
    img[:, -1] = 255
    out = Framing(x0=5, y0=0, size=10).apply(img, 10)
    assert out.shape == (10, 10, 3)
    assert (out[:, 4:] == 255).all()


def test_no_confident_keypoints_is_a_clear_error() -> None:
    k = np.zeros((17, 3), np.float32)
    with pytest.raises(FramingError, match="no confident keypoints"):
        Framing.around([k], 100, 100)


def test_flip_mirrors_pixels_and_swaps_left_right_colours(session_shard: Path) -> None:
    data = build_frameset([session_shard], 64)
    idx = torch.tensor([3])
    plain = make_batch(data, idx)
    mirrored = make_batch(data, idx, torch.tensor([True]))
    assert torch.equal(mirrored["image"], plain["image"].flip(-1))
    # Mirrored pixels of a pose map would paint the left arm in the right arm's colour;
    # the flipped map is redrawn from mirrored joints instead.
    assert not torch.equal(mirrored["pose"], plain["pose"].flip(-1))
    k = data.keypoints[3].numpy()
    x, y = k[KP["left_wrist"], :2]
    fx = 63 - x  # where the left wrist is drawn in the mirrored map: as the right wrist
    right_wrist_colour = pose_map(
        np.where(np.arange(17)[:, None] == KP["right_wrist"], [[fx, y, 1.0]], [[0, 0, 0]]), 64, 64
    )[round(y), round(fx)][::-1]
    got = ((mirrored["pose"][0, :, round(y), round(fx)] + 1) * 127.5).round().numpy()
    assert np.abs(got - right_wrist_colour).max() < 40


def test_holdout_is_fixed_spread_and_never_trained_on(session_shard: Path) -> None:
    assert holdout_indices(100) == holdout_indices(100)
    held = holdout_indices(100)
    assert len(held) == 10 and held[0] > 0 and held[-1] < 99
    assert max(np.diff(held)) - min(np.diff(held)) <= 1
    data = build_frameset([session_shard], 64)
    train, test = split(data)
    assert not set(train.seqs) & set(test.seqs)
    assert len(train) + len(test) == len(data)


def test_stream_batches_cover_train_frames_and_count_time(session_shard: Path) -> None:
    train, _ = split(build_frameset([session_shard], 64))
    stream = BatchStream(train, 4, temporal=True)
    batches = [b for _, b in zip(range(8), stream, strict=False)]
    assert batches[0]["image"].shape == (4, 3, 64, 64)
    assert set(batches[0]) == {"image", "pose", "mask", "has_mask", "prev_image", "prev_pose"}
    assert batches[0]["mask"].shape == (4, 1, 64, 64) and batches[0]["has_mask"].shape == (4,)
    assert float(batches[0]["image"].min()) >= -1.0 and float(batches[0]["image"].max()) <= 1.0
    assert stream.batches == 8 and stream.busy_s > 0


def test_sources_may_be_bytes_and_several_nodes_get_their_own_crop(tmp_path: Path) -> None:
    a = write_session(tmp_path, "s1", frames=8, node="n1")
    b = write_session(tmp_path, "s1", frames=8, node="n2", shift=0.15)
    data = build_frameset([a.read_bytes(), b], 64)
    assert len(data) == 16
    assert sorted(set(data.clips)) == ["s1/n1", "s1/n2"]
    assert int(data.prev[8]) == 8  # a clip's first frame has no previous frame
    assert list_shards(tmp_path) == sorted([a, b])


def test_bad_shard_is_a_data_error_and_bad_jpeg_frames_are_skipped(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="shard"):
        build_frameset([b"not a tar at all" * 64], 64)
    good = write_session(tmp_path, "s2", frames=6)
    frames = list(read_shard(good))
    meta = frames[0][0].model_copy(update={"seq": 99})
    broken = b"\xff\xd8" + b"\x00" * 100 + b"\xff\xd9"  # JPEG markers, no image
    data = build_frameset([good, shard_bytes([(meta, broken)])], 64)
    assert len(data) == 6


def test_too_few_usable_frames_is_a_data_error(tmp_path: Path) -> None:
    k = keypoints(0.0, 160, 120)
    k[:, 2] = 0.0
    meta = FrameMeta(
        session="s3",
        node="n1",
        seq=0,
        capture_ns=0,
        width=160,
        height=120,
        keypoints=[tuple(map(float, r)) for r in k],
    )
    with pytest.raises(DataError):
        build_frameset([shard_bytes([(meta, b"\xff\xd8\xff\xd9")])], 64)


def test_masks_are_cropped_like_the_images(tmp_path: Path) -> None:
    shard = write_session(tmp_path, "m1", frames=8, width=320, height=240, masks=True)
    data = build_frameset([shard], 64)
    assert data.masks.shape == (8, 1, 64, 64) and data.masks.dtype == torch.uint8
    assert bool(data.has_mask.all())
    # The person's pixels differ from the gradient behind them; the mask says where.
    frame = read_frames([shard])[0]
    crop = Framing.around([f.meta.keypoints for f in read_frames([shard])], 320, 240, pad=0.25)
    body = render(frame.meta.keypoints_array(), 320, 240, 1, mask=True)
    want = crop.apply(body, 64)
    got = data.masks[0, 0].numpy()
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 12  # 128 px mask -> 64 px crop
    assert ((got > 127) == (want > 127)).mean() > 0.95
    # Subsets and concatenation carry masks with their frames.
    part = data.subset([5, 2])
    assert torch.equal(part.masks[1], data.masks[2]) and part.has_mask.tolist() == [True, True]
    both = type(data).concat([data, part])
    assert both.masks.shape[0] == 10 and bool(both.has_mask.all())


def test_crop_mask_matches_cropping_a_full_size_mask() -> None:
    mask = np.zeros((96, 128), np.uint8)  # the mask of a 128 x 96 frame is full size
    cv2.ellipse(mask, (70, 40), (20, 30), 0, 0, 360, 255, -1, cv2.LINE_AA)
    crop = Framing(x0=40, y0=-10, size=80)
    got = crop_mask(mask, 128, 96, crop, 160)  # upsampling: both are bilinear
    want = crop.apply(mask, 160)
    # (apply resizes the cut-out window, so its outermost pixels see no pixel beyond it)
    assert np.abs(got.astype(int) - want.astype(int))[2:-2, 2:-2].max() <= 8  # warp: 1/32 steps
    # The same mask at half size, for a frame twice as large: the same cut, softer edges.
    half = cv2.resize(mask, (64, 48), interpolation=cv2.INTER_AREA)
    big = Framing(x0=80, y0=-20, size=160)
    assert np.abs(crop_mask(half, 256, 192, big, 160).astype(int) - want.astype(int)).mean() < 4


def test_old_shards_train_as_before_with_no_masks(session_shard: Path) -> None:
    data = build_frameset([session_shard], 64)
    assert not bool(data.has_mask.any()) and int(data.masks.sum()) == 0
    batch = make_batch(data, torch.tensor([0, 1]))
    assert set(batch) == {"image", "pose", "mask", "has_mask"}
    # no sample claims a mask: training falls back to the whole-frame losses
    assert batch["has_mask"].tolist() == [0.0, 0.0] and float(batch["mask"].max()) == -1.0
