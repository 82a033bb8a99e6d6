"""The README's main job, through the CLI as a user runs it (shortened to one real epoch)."""

import pytest

from pl_lrfind.cli import main

pytestmark = pytest.mark.slow


def test_demo_prints_the_rate_the_result_and_where_the_logs_are(tmp_path, capsys):
    assert main(["demo", "--root", str(tmp_path), "--max-epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "lr_find: suggestion" in out and "val_acc" in out
    assert f"tensorboard --logdir {tmp_path}" in out
    png = next(tmp_path.rglob("lr_find.png"))
    assert png.stat().st_size > 10_000
    assert list(tmp_path.rglob("events.out.tfevents.*"))
