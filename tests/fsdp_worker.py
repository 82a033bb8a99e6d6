"""Run by test_training_setups: a 2-process FSDP2 fit on CPU (gloo) with the finder.

Lightning's ``FSDPStrategy`` (FSDP1) refuses the CPU, and torch's FSDP1 needs an accelerator;
``ModelParallelStrategy`` with torch's ``fully_shard`` (FSDP2) runs on CPU processes. Each rank
holds half of every parameter. A callback ahead of the finder takes one Adam step at train start,
so the snapshot holds optimizer state, and records this rank's shards and state; with
``then="stop"`` the fit ends right after the test, where they must be back bit for bit.
"""

import json
import os
import sys
from datetime import timedelta

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import ModelParallelStrategy
from torch.distributed.fsdp import fully_shard

sys.path.insert(0, os.path.dirname(__file__))
from helpers import classifier_class, loader, trainer_kwargs  # noqa: E402

from pl_lrfind import LRFinderCallback  # noqa: E402


class Sharded(classifier_class()):
    def configure_model(self):
        mesh = self.device_mesh["data_parallel"]
        for module in (self.body, self.head, self):
            fully_shard(module, mesh=mesh)


def local_state(model, optimizer) -> dict[str, torch.Tensor]:
    """This rank's shards of every parameter and buffer, and its optimizer state, as plain tensors."""
    state = {name: param.to_local().detach().clone() for name, param in model.named_parameters()}
    state.update({name: buffer.detach().clone() for name, buffer in model.named_buffers()})
    for index, param in enumerate(p for group in optimizer.param_groups for p in group["params"]):
        for key, value in optimizer.state.get(param, {}).items():
            local = value.to_local() if hasattr(value, "to_local") else value
            state[f"optimizer.{index}.{key}"] = local.detach().clone()
    return state


class AdamStepThenRecord(pl.Callback):
    def on_train_start(self, trainer, pl_module):
        optimizer = trainer.optimizers[0]
        x, y = next(iter(trainer.train_dataloader))
        torch.nn.functional.cross_entropy(pl_module(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()
        self.before = local_state(pl_module, optimizer)
        self.groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]

    def on_train_end(self, trainer, pl_module):
        optimizer = trainer.optimizers[0]
        self.after = local_state(pl_module, optimizer)
        self.groups_after = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]


def main(out: str) -> None:
    pl.seed_everything(0)
    model = Sharded(optimizer="adam", lr=0.01)
    recorder = AdamStepThenRecord()
    finder = LRFinderCallback(num_steps=12, min_lr=1e-5, max_lr=10.0, then="stop", log_to_tensorboard=False)
    strategy = ModelParallelStrategy(data_parallel_size=2, tensor_parallel_size=1, timeout=timedelta(seconds=120))
    trainer = pl.Trainer(
        callbacks=[recorder, finder],
        **trainer_kwargs(devices=2, strategy=strategy, max_epochs=2, deterministic=False, default_root_dir=out),
    )
    trainer.fit(model, loader())
    before, after = recorder.before, recorder.after
    record = {
        "rank": trainer.global_rank,
        "world_size": trainer.world_size,
        "result": finder.result.to_dict(),
        "steps_run": trainer.global_step,
        "same_keys": sorted(before) == sorted(after),
        "bit_for_bit": all(torch.equal(before[key], after[key]) for key in before if key in after),
        "optimizer_entries": sum(key.startswith("optimizer.") for key in before),
        "groups_restored": recorder.groups == recorder.groups_after,
        "local_bytes_aligned": sum(-(-t.numel() * t.element_size() // 64) * 64 for t in before.values()),
        "full_param_numel": sum(p.numel() for p in model.parameters()),
        "local_param_numel": sum(p.to_local().numel() for p in model.parameters()),
    }
    with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump(record, f)
    torch.distributed.barrier()
    # Lightning leaves the process group up; gloo's threads torn down at interpreter exit can abort
    # the process ("terminate called without an active exception", seen once in CI; pytorch#190489).
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
