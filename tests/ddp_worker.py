"""Run by test_training_setups: a 2-process DDP fit on CPU (gloo) with the finder.

Lightning's DDP launcher starts this script once more per extra rank; every rank writes what it
concluded to OUT/rank{N}.json so the test can compare them.
"""

import hashlib
import json
import os
import sys
from datetime import timedelta

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy

sys.path.insert(0, os.path.dirname(__file__))
from helpers import classifier_class, loader, trainer_kwargs  # noqa: E402

from pl_lrfind import LRFinderCallback  # noqa: E402


def main(out: str) -> None:
    pl.seed_everything(0)
    model = classifier_class()()
    finder = LRFinderCallback(num_steps=12, min_lr=1e-5, max_lr=10.0)
    trainer = pl.Trainer(
        callbacks=[finder],
        **trainer_kwargs(
            devices=2,
            strategy=DDPStrategy(process_group_backend="gloo", timeout=timedelta(seconds=120)),
            max_epochs=2,
            deterministic=False,
            default_root_dir=os.path.join(out, "root"),  # the same on both ranks
        ),
    )
    trainer.fit(model, loader(n=256, batch_size=16, shuffle=True))
    # Parameters only: plain DDP keeps each rank's BatchNorm running statistics local.
    weights = b"".join(p.detach().cpu().numpy().tobytes() for p in model.parameters())
    record = {
        "rank": trainer.global_rank,
        "result": finder.result.to_dict(),
        "global_step": trainer.global_step,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "world_size": trainer.world_size,
    }
    with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump(record, f)
    torch.distributed.barrier()
    # Lightning leaves the process group up; gloo's threads torn down at interpreter exit can abort
    # the process ("terminate called without an active exception", seen once in CI; pytorch#190489).
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
