from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from cloud.training.checkpoint import (
    FORMAT_VERSION,
    checkpoint_summary,
    load_checkpoint,
    save_checkpoint,
)
from cloud.training.config import Pix2PixConfig
from cloud.training.errors import CheckpointError
from cloud.training.model import Pix2Pix

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _model(cfg: Pix2PixConfig) -> Pix2Pix:
    torch.manual_seed(0)
    model = Pix2Pix.from_config(cfg)
    model.steps_done = 7
    return model


def _optimizer_state(model: Pix2Pix) -> dict[str, dict]:
    opts = model.configure_optimizers()
    for opt, net in zip(opts, (model.generator, model.discriminator), strict=True):
        for p in net.parameters():
            p.grad = torch.randn_like(p)
        opt.step()
    return {"g": opts[0].state_dict(), "d": opts[1].state_dict()}


def test_round_trip_is_bit_exact(tmp_path: Path, tiny_config: Pix2PixConfig) -> None:
    model = _model(tiny_config)
    optims = _optimizer_state(model)
    path = tmp_path / "c.safetensors"
    sha = save_checkpoint(path, model, optimizers=optims, state={"elapsed_s": 12.5})
    ckpt = load_checkpoint(path)
    assert ckpt.sha256 == sha and ckpt.step == 7 and ckpt.state == {"elapsed_s": 12.5}
    assert ckpt.config == tiny_config
    again = ckpt.build_model()
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    for name in ("g", "d"):
        saved, loaded = optims[name], ckpt.optimizers[name]
        assert loaded["param_groups"] == json.loads(json.dumps(saved["param_groups"]))
        for pid, st in saved["state"].items():
            for key, value in st.items():
                assert torch.equal(loaded["state"][pid][key], value), (name, pid, key)
    # The optimiser state really loads into a fresh optimiser.
    fresh = again.configure_optimizers()
    fresh[0].load_state_dict(ckpt.optimizers["g"])


def test_half_precision_checkpoint_is_smaller_and_loads_as_float(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    model = _model(tiny_config)
    save_checkpoint(tmp_path / "full.safetensors", model)
    save_checkpoint(tmp_path / "half.safetensors", model, half=True)
    assert (tmp_path / "half.safetensors").stat().st_size < (
        tmp_path / "full.safetensors"
    ).stat().st_size * 0.6
    restored = load_checkpoint(tmp_path / "half.safetensors").build_model()
    w0 = model.generator.out[0].weight
    w1 = restored.generator.out[0].weight
    assert w1.dtype == torch.float32 and torch.allclose(w0, w1, atol=1e-3)
    info = checkpoint_summary(tmp_path / "half.safetensors")
    assert info["dtypes"] == ["float16"] and info["step"] == 7 and not info["resumable"]


def test_corrupt_checkpoints_give_clear_errors(tmp_path: Path, tiny_config: Pix2PixConfig) -> None:
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, _model(tiny_config))
    data = bytearray(path.read_bytes())

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(truncated)

    flipped = tmp_path / "flipped.safetensors"
    data[-10] ^= 0x40  # one bit in the last tensor's bytes
    flipped.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(flipped)

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(garbage)

    with pytest.raises(CheckpointError, match="train-base"):
        load_checkpoint(tmp_path / "missing.safetensors")


def _rewrite_metadata(src: Path, dst: Path, **changes: str) -> None:
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    meta.update(changes)
    save_file(tensors, str(dst), metadata=meta)


def test_wrong_version_or_foreign_file_is_refused(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, _model(tiny_config))
    future = tmp_path / "future.safetensors"
    _rewrite_metadata(path, future, format_version=str(FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match=f"version {FORMAT_VERSION + 1}"):
        load_checkpoint(future)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a dancebooth"):
        load_checkpoint(foreign)
    other = tmp_path / "other.safetensors"
    _rewrite_metadata(
        path, other, config=tiny_config.model_copy(update={"ngf": 16}).model_dump_json()
    )
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(other).build_model()


def test_the_committed_format_1_booth_checkpoint_still_loads() -> None:
    """The first booth-128 was written with a flat config (lr 2e-4 beside the network's
    fields): it reads back with that run's recipe and builds the same network."""
    from cloud.training.config import Recipe

    ckpt = load_checkpoint(FIXTURES / "booth-128-format1.safetensors")
    assert ckpt.config.resolution == 128 and ckpt.config.ngf == 16
    assert ckpt.config.recipe == Recipe(lr=2e-4, schedule="decay", ema=0.0)
    model = ckpt.build_model()
    assert model.generate(torch.zeros(1, 3, 128, 128)).shape == (1, 3, 128, 128)


def test_config_and_recipe_round_trip_through_a_checkpoint(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    from cloud.training.config import Augment, Recipe

    recipe = Recipe(lr=3e-4, schedule="decay", ema=0.9, augment=Augment(scale=0.1, rotate=5))
    cfg = tiny_config.with_recipe(recipe)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, _model(cfg))
    assert load_checkpoint(path).config == cfg
    assert checkpoint_summary(path)["config"]["recipe"]["augment"]["rotate"] == 5


def test_the_committed_booth_checkpoint_draws_the_dancer_only() -> None:
    """The demo's booth-128 draws the person (RGB + alpha) for compositing over the plate."""
    from cloud.training.base import DEFAULT_BOOTH_CHECKPOINT

    ckpt = load_checkpoint(DEFAULT_BOOTH_CHECKPOINT)
    assert ckpt.config.resolution == 128 and ckpt.config.dancer_only
    assert ckpt.build_model().generate(torch.zeros(1, 3, 128, 128)).shape == (1, 4, 128, 128)
