"""The pix2pix adapter: same numbers as the network, BGR in and out, temporal chaining."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cloud.render.errors import GeneratorError
from cloud.render.generator import Generator
from cloud.render.renderer import render
from cloud.render.torch_generator import TorchGenerator
from cloud.render.video import RenditionTags, probe
from cloud.training.checkpoint import save_checkpoint
from cloud.training.config import Pix2PixConfig
from cloud.training.model import Pix2Pix
from common.posemap import pose_map
from tests.cloud.render.skeletons import walk


def _model(temporal: bool = False) -> Pix2Pix:
    torch.manual_seed(0)
    cfg = Pix2PixConfig(resolution=128, ngf=8, max_channels=32, ndf=8, temporal=temporal)
    return Pix2Pix.from_config(cfg).eval()


def _maps(n: int) -> np.ndarray:
    kps = walk(np.linspace(40, 90, n), np.full(n, 118.0), np.full(n, 96.0))
    return np.stack([pose_map(k, 128, 128) for k in kps])


def _direct(model: Pix2Pix, maps: np.ndarray, prev: torch.Tensor | None = None) -> np.ndarray:
    x = torch.from_numpy(maps[..., ::-1].copy()).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        y = model.generate(x, prev)
    rgb = ((y.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    return rgb[..., ::-1]


def test_adapter_matches_the_network_with_channel_order_fixed(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "visitor.safetensors"
    history = [{"ssim": 0.7, "region_ssim": 0.52}, {"ssim": 0.72, "region_ssim": 0.61}]
    sha = save_checkpoint(path, model, state={"history": history, "best": 0.61})
    g = TorchGenerator.from_checkpoint(path, device="cpu", precision="fp32")
    assert isinstance(g, Generator)
    assert (g.resolution, g.temporal, g.dancer_only) == (128, False, False)
    assert g.model_version == f"pix2pix-128-{sha[:12]}"
    assert g.held_out_ssim == pytest.approx(0.61)
    maps = _maps(5)
    out = g.generate(maps, None)
    assert out.shape == (5, 128, 128, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - _direct(model, maps).astype(int)).max() <= 1


def test_temporal_model_is_chained_frame_by_frame() -> None:
    model = _model(temporal=True)
    g = TorchGenerator(model, model_version="t", device="cpu", precision="fp32")
    maps = _maps(4)
    out = g.generate(maps, None)
    prev = None
    for i in range(4):
        x = torch.from_numpy(maps[i : i + 1, ..., ::-1].copy()).permute(0, 3, 1, 2).float()
        with torch.no_grad():
            prev = model.generate(x / 127.5 - 1, prev)
        want = ((prev.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
        assert np.abs(out[i].astype(int) - want[0, ..., ::-1].astype(int)).max() <= 1
    # Chaining across batches starts from the frame the renderer hands back.
    again = g.generate(maps[1:2], out[0])
    assert np.abs(again[0].astype(int) - out[1].astype(int)).mean() < 2.0


def test_renders_an_mp4_with_the_network(tmp_path: Path) -> None:
    g = TorchGenerator(_model(), model_version="pix2pix-test", device="cpu")
    kps = walk(np.linspace(40, 90, 12), np.full(12, 118.0), np.full(12, 96.0))
    tags = RenditionTags("s-1", g.model_version)
    result = render(g, kps, tmp_path / "r.mp4", fps=25, tags=tags, batch_size=5)
    info = probe(result.path)
    assert info.frames == 12 and info.tags["model_version"] == "pix2pix-test"


def test_bad_checkpoints_and_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="no checkpoint"):
        TorchGenerator.from_checkpoint(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(GeneratorError, match="corrupt"):
        TorchGenerator.from_checkpoint(junk)
    g = TorchGenerator(_model(), model_version="m", device="cpu")
    with pytest.raises(GeneratorError, match=r"\[B, 128, 128, 3\] uint8"):
        g.generate(np.zeros((2, 64, 64, 3), np.uint8), None)


def test_bf16_fast_path_stays_within_a_few_grey_levels() -> None:
    model = _model()
    exact = TorchGenerator(model, model_version="m", device="cpu", precision="fp32")
    fast = TorchGenerator(model, model_version="m", device="cpu", precision="bf16")
    maps = _maps(3)
    diff = np.abs(fast.generate(maps, None).astype(int) - exact.generate(maps, None).astype(int))
    assert diff.mean() < 2.0


def test_bf16_on_a_gpu_without_it_falls_back_to_fp16_and_absent_gpus_are_refused() -> None:
    from cloud.render.torch_generator import _autocast_dtype

    gpu = torch.device("cuda", 0)
    assert _autocast_dtype(gpu, "bf16", bf16=False) == torch.float16  # pre-Ampere
    assert _autocast_dtype(gpu, "bf16", bf16=True) == torch.bfloat16
    assert _autocast_dtype(gpu, "auto", bf16=True) == torch.float16
    assert _autocast_dtype(gpu, "fp32") is None
    with pytest.raises(GeneratorError, match="CUDA GPU"):
        TorchGenerator(_model(), model_version="m", device=f"cuda:{torch.cuda.device_count()}")


def test_held_out_ssim_from_published_and_run_checkpoints() -> None:
    from cloud.render.torch_generator import held_out_ssim

    assert held_out_ssim({"held_out": {"ssim": 0.63, "region_ssim": 0.46}}) == 0.46
    assert held_out_ssim({"held_out": {"ssim": 0.63}}) == 0.63
    assert held_out_ssim({"history": [{"region_ssim": 0.3}, {"region_ssim": 0.5}]}) == 0.5
    assert held_out_ssim({"history": [{"region_ssim": float("nan")}]}) is None
    assert held_out_ssim({}) is None
