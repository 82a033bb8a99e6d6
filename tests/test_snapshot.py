"""The snapshot on its own: where ``auto`` puts it (a pure function of sizes), and exact restores."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pl_lrfind.snapshot import TrainingSnapshot
from pl_lrfind.snapshot_placement import (
    DISK_RESERVE,
    FreeSpace,
    SnapshotSpaceError,
    available_host_memory,
    cgroup_headroom,
    check_room,
    choose_target,
    host_bytes,
)

GIB = 2**30


class TestAuto:
    @pytest.mark.parametrize(
        ("state_gib", "device_gib", "host_gib", "disk_gib", "processes", "expected"),
        [
            (1, 40, 64, 500, 1, "device"),  # 3x headroom on the device
            (15, 40, 200, 500, 1, "host"),  # 45 GiB needed on the device with headroom: too much
            (15, None, 200, 500, 1, "host"),  # a CPU-only run has no device to prefer
            (15, 40, 16, 500, 1, "disk"),  # 15 GiB is more than 80 % of 16 GiB of host memory
            (15, 40, 100, 500, 8, "disk"),  # eight ranks on one host need 120 GiB of host memory
            (100, 80, 64, 500, 1, "disk"),  # a 7B model with Adam on a 64 GiB host
        ],
    )
    def test_device_else_host_else_disk(self, state_gib, device_gib, host_gib, disk_gib, processes, expected):
        device = None if device_gib is None else device_gib * GIB
        free = FreeSpace(device=device, host=host_gib * GIB, disk=disk_gib * GIB)
        assert choose_target(state_gib * GIB, free, processes) == expected

    def test_nothing_holds_it(self):
        free = FreeSpace(device=10 * GIB, host=16 * GIB, disk=20 * GIB)
        with pytest.raises(SnapshotSpaceError, match=r"they need 30.00 GiB; 10.00 GiB free on the device, 16.00 GiB"):
            choose_target(30 * GIB, free)

    @pytest.mark.parametrize(
        ("target", "free", "message"),
        [
            ("device", FreeSpace(2 * GIB, 64 * GIB, 500 * GIB), "snapshot='device' cannot hold"),
            ("host", FreeSpace(None, 4 * GIB, 500 * GIB), "need 4.00 GiB; 4.00 GiB of host memory available"),
            (
                "disk",
                FreeSpace(None, 64 * GIB, 4 * GIB + DISK_RESERVE),
                r"snapshot=.disk. cannot hold.*5.00 GiB free on disk",
            ),
        ],
    )
    def test_an_explicit_target_too_small_says_what_was_needed_and_free(self, target, free, message):
        with pytest.raises(SnapshotSpaceError, match=message):
            check_room(target, 4 * GIB + 1, free)
        check_room(target, GIB, free)  # a smaller state fits

    def test_pinned_host_memory_is_counted_in_powers_of_two(self):
        assert host_bytes(33 * GIB, pinned=True) == 64 * GIB and host_bytes(33 * GIB, pinned=False) == 33 * GIB
        assert host_bytes(64 * GIB, pinned=True) == 64 * GIB
        free = FreeSpace(device=40 * GIB, host=60 * GIB, disk=500 * GIB)
        assert choose_target(33 * GIB, free, pinned=False) == "host"  # 33 GiB fits in 80 % of 60 GiB
        assert choose_target(33 * GIB, free, pinned=True) == "disk"  # the 64 GiB it would pin does not
        with pytest.raises(SnapshotSpaceError, match="they need 64.00 GiB"):
            check_room("host", 33 * GIB, free, pinned=True)

    @pytest.mark.parametrize(
        ("limit", "current", "expected"), [("max\n", "123\n", None), ("1000\n", "400\n", 600), ("10\n", "40\n", 0)]
    )
    def test_a_cgroup_memory_limit_caps_the_available_host_memory(self, tmp_path, limit, current, expected):
        (tmp_path / "memory.max").write_text(limit)
        (tmp_path / "memory.current").write_text(current)
        assert cgroup_headroom(tmp_path) == expected
        if expected is not None:
            assert available_host_memory(tmp_path) == expected
        assert cgroup_headroom(tmp_path / "elsewhere") is None

    def test_the_device_target_on_a_cpu_run_is_host_memory_and_always_fits_the_device_check(self):
        check_room("device", 100 * GIB, FreeSpace(None, 64 * GIB, 500 * GIB))


class TestExactRestore:
    @pytest.mark.parametrize("target", ["device", "host", "disk"])
    def test_replaced_state_tensors_and_buffers_come_back_as_they_were(self, target, tmp_path):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model(torch.randn(16, 4)).sum().backward()
        optimizer.step()  # momentum buffers exist
        params = list(model.parameters())
        momentum = optimizer.state[params[0]]["momentum_buffer"]
        before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
        momenta = {i: optimizer.state[p]["momentum_buffer"].clone() for i, p in enumerate(params)}

        snapshot = TrainingSnapshot.take(model, optimizer, target=target, directory=tmp_path)
        assert list(tmp_path.iterdir()) == []  # the disk file is unlinked as soon as it is mapped
        for _ in range(3):
            model(torch.randn(16, 4)).sum().backward()
            optimizer.step()
        optimizer.state[params[0]]["momentum_buffer"] = torch.zeros_like(momentum)  # replaced, not updated
        model[1].running_mean = torch.full((8,), 7.0)  # a buffer replaced by a new tensor
        optimizer.param_groups[0]["lr"] = 5.0
        optimizer.param_groups[0]["added_by_a_scheduler"] = 1.0

        snapshot.restore(model, optimizer)
        snapshot.release()
        for name, tensor in model.state_dict().items():
            assert torch.equal(tensor, before[name]), name
        assert optimizer.state[params[0]]["momentum_buffer"] is momentum
        for index, param in enumerate(params):
            assert torch.equal(optimizer.state[param]["momentum_buffer"], momenta[index])
        assert optimizer.param_groups[0]["lr"] == 0.1 and "added_by_a_scheduler" not in optimizer.param_groups[0]
        assert snapshot.nbytes >= sum(t.numel() * t.element_size() for t in before.values())

    def test_caches_expanded_buffers_and_optimizer_only_parameters(self, tmp_path):
        class Cached(nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = nn.Linear(4, 4)
                self.register_buffer("scale", torch.ones(4))  # persistent: replaced at another size below
                self.register_buffer("cache", None, persistent=False)  # a cache: not the snapshot's business
                self.register_buffer("lazy", None)  # persistent, empty until forward fills it
                self.register_buffer("ones", torch.ones(1, 1).expand(4, 4), persistent=True)  # stride 0

            def forward(self, x):
                self.cache = x.detach().clone()
                self.lazy = x.detach().mean(0)
                return self.linear(x) * self.scale * self.ones[0]

        torch.manual_seed(0)
        model = Cached()
        temperature = nn.Parameter(torch.tensor(1.5))  # stepped by the optimizer, not owned by the model
        optimizer = torch.optim.Adam([*model.parameters(), temperature], lr=0.1)
        before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
        scale = model.scale
        snapshot = TrainingSnapshot.take(model, optimizer, target="host")
        for _ in range(2):
            (model(torch.randn(8, 4)).sum() * temperature).backward()
            optimizer.step()
        model.scale = torch.full((8,), 3.0)  # the test left a buffer of another size behind
        snapshot.restore(model, optimizer)

        assert model.scale is scale and model.lazy is None
        for name, tensor in model.state_dict().items():
            assert torch.equal(tensor, before[name]), name
        assert temperature.item() == 1.5 and optimizer.state_dict()["state"] == {}

    def test_a_model_that_gained_a_parameter_is_restored_and_then_refused(self):
        model = nn.Linear(2, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        weight = model.weight.detach().clone()
        snapshot = TrainingSnapshot.take(model, optimizer)
        with torch.no_grad():
            model.weight.add_(1.0)
        optimizer.param_groups[0]["lr"] = 3.0
        model.extra = nn.Parameter(torch.zeros(1))
        with pytest.raises(RuntimeError, match=r"changed during the range test: .*\['param:extra'\] appeared"):
            snapshot.restore(model, optimizer)
        assert torch.equal(model.weight, weight) and optimizer.param_groups[0]["lr"] == 0.1
