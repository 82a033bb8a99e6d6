"""The callback configured from YAML through LightningCLI, the way a CLI user adds it.

The config (``tests/cli_config.yaml``) lists ``pl_lrfind.LRFinderCallback`` under
``trainer.callbacks`` by ``class_path`` with ``init_args``; the CLI builds the Trainer, the model
and the datamodule from it and runs ``fit``. The finder must have run its range test and handed
over to a one-cycle schedule that then ran over the whole real fit.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch

from pl_lrfind import LRFinderCallback
from pl_lrfind.core import NON_ADAM_LEVEL

CONFIG = Path(__file__).with_name("cli_config.yaml")
REAL_STEPS = 256 // 16  # one epoch of the config's datamodule: the budget one-cycle must cover

# The YAML names the lightning.pytorch classes; pytorch_lightning's CLI gets a copy naming its own
# (jsonargparse validates the config file's class paths before any command-line override).
NAMESPACES = {
    "lightning.pytorch": {},
    "pytorch_lightning": {
        "cli_model.BlobsModel": "cli_model.PLBlobsModel",
        "cli_model.BlobsDataModule": "cli_model.PLBlobsDataModule",
    },
}


def _run_cli(namespace: str, tmp_path: Path):
    config = CONFIG
    if NAMESPACES[namespace]:
        text = CONFIG.read_text()
        for old, new in NAMESPACES[namespace].items():
            text = text.replace(f"class_path: {old}\n", f"class_path: {new}\n")
        config = tmp_path / CONFIG.name
        config.write_text(text)
    cli_module = importlib.import_module(f"{namespace}.cli")
    args = ["fit", "--config", str(config), "--trainer.default_root_dir", str(tmp_path)]
    return cli_module.LightningCLI(args=args, save_config_callback=None)


@pytest.mark.parametrize("namespace", list(NAMESPACES))
def test_finder_from_yaml_runs_and_hands_over_to_one_cycle(namespace, tmp_path):
    cli = _run_cli(namespace, tmp_path)

    finders = [callback for callback in cli.trainer.callbacks if isinstance(callback, LRFinderCallback)]
    assert len(finders) == 1, f"the YAML's callback is not on the Trainer: {cli.trainer.callbacks}"
    finder = finders[0]
    # init_args reached the callback
    assert finder.range_test_settings["num_steps"] == 10
    assert finder.range_test_settings["max_lr"] == 1.0
    assert finder.then == "one_cycle"
    assert finder.one_cycle_settings["div_factor"] == 20.0 and finder.one_cycle_settings["pct_start"] == 0.25

    result = finder.result
    assert result is not None, "the fit did not run the range test"
    assert 5 <= result.num_steps_taken <= 10
    assert result.suggestion is not None
    # The config's model trains with SGD, over 16 steps: no length factor, only the level.
    assert result.rule == "midspan" and result.settings["budget_level"] == NON_ADAM_LEVEL
    assert result.chosen_lr == pytest.approx(result.suggestion * NON_ADAM_LEVEL)

    schedulers = [config.scheduler for config in cli.trainer.lr_scheduler_configs]
    one_cycles = [s for s in schedulers if isinstance(s, torch.optim.lr_scheduler.OneCycleLR)]
    assert len(one_cycles) == 1, f"no OneCycleLR installed: {schedulers}"
    one_cycle = one_cycles[0]
    assert one_cycle.total_steps == REAL_STEPS
    assert one_cycle.last_epoch == REAL_STEPS, "the schedule did not run over the whole real fit"
    assert max(group["max_lr"] for group in one_cycle.optimizer.param_groups) == pytest.approx(result.chosen_lr)
    # the rates the real fit's steps actually used: up from chosen/div_factor (the YAML's 20) to the peak, down
    recorder = next(callback for callback in cli.trainer.callbacks if type(callback).__name__ == "LrRecorder")
    real_lrs = recorder.lrs[-REAL_STEPS:]
    assert real_lrs[0] == pytest.approx(result.chosen_lr / 20)
    assert max(real_lrs) == pytest.approx(result.chosen_lr, rel=0.05)
    assert real_lrs[-1] == pytest.approx(result.chosen_lr / 20 / 1e4)

    # the real fit ran its full budget after the test's own steps (its epoch ends with the test), and validated
    assert cli.trainer.global_step == result.num_steps_taken + REAL_STEPS
    assert "val_loss" in cli.trainer.callback_metrics


def test_a_config_that_names_the_deprecated_arguments_still_loads_with_a_warning(tmp_path):
    # As a config saved by pl_lrfind 0.1 does: every argument, the OneCycleLR ones among them.
    text = CONFIG.read_text().replace(
        "        one_cycle:\n          div_factor: 20.0\n",
        "        steps_per_lr: 2\n        budget_exponent: null\n        pct_start: 0.3\n        div_factor: 20.0\n",
    )
    assert "steps_per_lr" in text
    config = tmp_path / CONFIG.name
    config.write_text(text)
    cli_module = importlib.import_module("lightning.pytorch.cli")
    args = ["fit", "--config", str(config), "--trainer.default_root_dir", str(tmp_path)]
    with pytest.warns(FutureWarning) as caught:
        cli = cli_module.LightningCLI(args=args, save_config_callback=None)
    messages = " ".join(str(warning.message) for warning in caught)
    assert (
        "LRFinderCallback(steps_per_lr=...) is deprecated" in messages
        and "one_cycle={'pct_start': ..., 'div_factor': ...}" in messages
    )
    assert "budget_exponent" not in messages  # null: not given
    (finder,) = [callback for callback in cli.trainer.callbacks if isinstance(callback, LRFinderCallback)]
    assert finder.range_test_settings["steps_per_lr"] == 2
    assert finder.one_cycle_settings["pct_start"] == 0.3 and finder.one_cycle_settings["div_factor"] == 20.0
    assert cli.trainer.global_step == 2 * len(finder.result.lrs) + REAL_STEPS  # two optimizer steps a rung
