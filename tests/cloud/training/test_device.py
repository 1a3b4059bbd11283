"""Device names, what Lightning gets, precision choice, and the worker's start-up checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from cloud.training.checkpoint import save_checkpoint
from cloud.training.config import Pix2PixConfig
from cloud.training.device import lightning_devices, resolve_device, resolve_precision
from cloud.training.errors import DeviceError, TrainingError
from cloud.training.finetune import finetune
from cloud.training.model import Pix2Pix
from dancebooth.cli import cli
from tests.cloud.training.dancer import write_session


def test_a_gpu_by_index_reaches_lightning_as_that_gpu() -> None:
    assert lightning_devices(torch.device("cuda", 1)) == ("cuda", [1])
    assert lightning_devices(torch.device("cuda")) == ("cuda", [0])  # not devices=1 (any)
    assert lightning_devices(torch.device("cpu")) == ("cpu", 1)


def test_absent_or_unknown_devices_are_refused() -> None:
    missing = f"cuda:{torch.cuda.device_count()}"  # one past the last visible GPU
    with pytest.raises(DeviceError, match="CUDA_VISIBLE_DEVICES"):
        resolve_device(missing)
    with pytest.raises(DeviceError, match="cuda:N"):
        resolve_device("gpu0")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_precision_is_bf16_where_the_gpu_has_it_else_fp16_and_fp32_on_cpu() -> None:
    gpu = torch.device("cuda", 0)
    assert resolve_precision("auto", gpu, bf16=True) == "bf16-mixed"
    assert resolve_precision("auto", gpu, bf16=False) == "16-mixed"
    assert resolve_precision("auto", torch.device("cpu")) == "32-true"
    assert resolve_precision("16-mixed", torch.device("cpu")) == "16-mixed"


def test_worker_refuses_to_start_without_its_gpu_or_with_the_wrong_resolution(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    env = {
        "DANCEBOOTH_CLOUD_DATABASE__URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "DANCEBOOTH_CLOUD_STORAGE__TYPE": "local",
        "DANCEBOOTH_CLOUD_STORAGE__ROOT": str(tmp_path / "store"),
        "DANCEBOOTH_CLOUD_TRAINING__DEVICE": f"cuda:{torch.cuda.device_count()}",
    }
    runner = CliRunner()
    res = runner.invoke(cli, ["cloud", "worker", "--once"], env=env)
    assert res.exit_code == 1 and "CUDA GPU(s)" in res.output, res.output
    assert "waiting for jobs" not in res.output

    booth = tmp_path / "booth.safetensors"
    save_checkpoint(booth, Pix2Pix.from_config(tiny_config), half=True)  # 128 px
    env.update(
        DANCEBOOTH_CLOUD_TRAINING__DEVICE="cpu",
        DANCEBOOTH_CLOUD_TRAINING__RESOLUTION="256",
        DANCEBOOTH_CLOUD_TRAINING__BOOTH_CHECKPOINT=str(booth),
    )
    res = runner.invoke(cli, ["cloud", "worker", "--once"], env=env)
    assert res.exit_code == 1 and "is 128 px but training.resolution is 256" in res.output


def test_finetune_refuses_a_model_of_another_resolution(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    booth = tmp_path / "booth.safetensors"
    save_checkpoint(booth, Pix2Pix.from_config(tiny_config))
    shard = write_session(tmp_path, "s1", frames=4)
    with pytest.raises(TrainingError, match=r"training\.resolution is 512"):
        finetune([shard], booth, 60, 1, work_dir=tmp_path / "job", resolution=512)
    assert not (tmp_path / "job" / "last.safetensors").exists()
