"""The finder on a CUDA device: every snapshot target, mixed precision, and one-GPU sharded strategies.

These run only where torch sees a CUDA device (CI has none; they skip there). The CPU suite covers
the same paths with host tensors; what only a GPU shows is the device target really living in
accelerator memory, host snapshots in pinned memory, CUDA autocast with the grad scaler, and
Lightning's FSDP strategies, which need an accelerator for FSDP1.
"""

from datetime import timedelta

import pytest
import pytorch_lightning as pl
import torch
from helpers import Classifier, loader, quiet_finder, trainer_kwargs
from pytorch_lightning.strategies import FSDPStrategy, ModelParallelStrategy
from torch.distributed.fsdp import fully_shard

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def on_gpu(**overrides) -> dict:
    return {"accelerator": "cuda", "devices": 1, "deterministic": False, **overrides}


def _local(tensor: torch.Tensor) -> torch.Tensor:
    tensor = tensor.to_local() if hasattr(tensor, "to_local") else tensor
    return tensor.detach().clone()


def live_state(trainer: pl.Trainer) -> dict[str, torch.Tensor]:
    """What the fit trains, as the strategy holds it: the optimizer's parameters (flat or sharded
    ones under FSDP), their optimizer state, and the wrapped model's buffers."""
    optimizer = trainer.optimizers[0]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state = {f"param.{i}": _local(p) for i, p in enumerate(params)}
    state.update({f"buffer.{name}": _local(b) for name, b in trainer.strategy.model.named_buffers()})
    for i, param in enumerate(params):
        for key, value in optimizer.state.get(param, {}).items():
            state[f"optimizer.{i}.{key}"] = _local(value) if torch.is_tensor(value) else torch.tensor(value)
    return state


class AdamStepThenRecord(pl.Callback):
    """Ahead of the finder: one Adam step at train start, so the snapshot holds optimizer state,
    then the state before the test and at the end of the fit."""

    def on_train_start(self, trainer, pl_module):
        optimizer = trainer.optimizers[0]
        x, y = (t.to(pl_module.device) for t in next(iter(trainer.train_dataloader)))
        torch.nn.functional.cross_entropy(trainer.strategy.model(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()
        self.before = live_state(trainer)
        self.rates = [group["lr"] for group in optimizer.param_groups]

    def on_train_end(self, trainer, pl_module):
        self.after = live_state(trainer)
        self.rates_after = [group["lr"] for group in trainer.optimizers[0].param_groups]


def fit_recorded(model, finder, **settings) -> tuple[pl.Trainer, AdamStepThenRecord]:
    """A fit on the GPU with the recorder ahead of the finder, so the finder snapshots the stepped state."""
    recorder = AdamStepThenRecord()
    trainer = pl.Trainer(callbacks=[recorder, finder], **trainer_kwargs(**on_gpu(**settings)))
    trainer.fit(model, loader())
    return trainer, recorder


def assert_restored(recorder: AdamStepThenRecord) -> None:
    assert recorder.before.keys() == recorder.after.keys()
    assert any(key.startswith("optimizer.") for key in recorder.before)
    for key, value in recorder.before.items():
        assert torch.equal(recorder.after[key], value), key
    assert recorder.rates_after == recorder.rates


@pytest.mark.parametrize(
    ("target", "chosen"), [("device", "device"), ("host", "host"), ("disk", "disk"), ("auto", "device")]
)
def test_every_target_restores_cuda_weights_and_optimizer_bit_for_bit(target, chosen):
    pl.seed_everything(0)
    finder = quiet_finder(num_steps=20, min_lr=1e-5, max_lr=10.0, then="stop", snapshot=target)
    _, recorder = fit_recorded(Classifier(optimizer="adam", lr=0.01), finder, max_epochs=2)
    assert finder.result.num_steps_taken > 5
    assert finder.result.settings["snapshot"] == chosen  # a tiny model: auto keeps it beside the weights
    assert all(value.is_cuda for key, value in recorder.after.items() if key.startswith("param."))
    assert_restored(recorder)


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_mixed_precision_on_cuda_restores_and_hands_a_rate_to_the_one_cycle(precision):
    pl.seed_everything(0)
    finder = quiet_finder(num_steps=30, min_lr=1e-5, max_lr=10.0, then="stop")
    _, recorder = fit_recorded(Classifier(optimizer="adam", lr=0.01), finder, max_epochs=2, precision=precision)
    assert_restored(recorder)

    pl.seed_everything(0)
    model = Classifier(optimizer="adam", lr=0.01)
    finder = quiet_finder(num_steps=30, min_lr=1e-5, max_lr=10.0)
    pl.Trainer(callbacks=[finder], **trainer_kwargs(**on_gpu(precision=precision, max_epochs=3))).fit(model, loader())
    assert finder.result.suggestion is not None
    assert finder.scheduler is not None and finder.scheduler.last_epoch > 0
    assert all(torch.isfinite(p).all() for p in model.parameters())


class ShardedClassifier(Classifier):
    def configure_model(self):
        mesh = self.device_mesh["data_parallel"]
        for module in (self.body, self.head, self):
            fully_shard(module, mesh=mesh)


@pytest.mark.parametrize("strategy", ["fsdp", "fsdp2"])
def test_one_gpu_sharded_strategies_restore_the_flat_or_sharded_state(tmp_path, strategy):
    pl.seed_everything(0)
    if strategy == "fsdp":
        model, chosen = Classifier(optimizer="adam", lr=0.01), FSDPStrategy(timeout=timedelta(seconds=120))
    else:
        model = ShardedClassifier(optimizer="adam", lr=0.01)
        chosen = ModelParallelStrategy(data_parallel_size=1, tensor_parallel_size=1, timeout=timedelta(seconds=120))
    finder = quiet_finder(num_steps=12, min_lr=1e-5, max_lr=10.0, then="stop")
    _, recorder = fit_recorded(model, finder, strategy=chosen, max_epochs=2)
    assert finder.result.num_steps_taken > 5
    assert_restored(recorder)
    torch.distributed.destroy_process_group()
