"""The benchmark's tasks: small, varied, and built only from data that ships with scikit-learn
or is generated from a fixed seed, so every number here reproduces offline on a laptop CPU.

Each task is a model, an optimizer and a data split. A fit lasts a few hundred optimizer steps
(one to three seconds on one core), which is what makes a grid of peak rates times seeds
affordable. ``seed`` varies the initial weights and the shuffling; the split is fixed, so seeds
are compared on the same validation set.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import TensorDataset

from pl_lrfind.demo import digits_cnn

Data = tuple[TensorDataset, TensorDataset]


@dataclass(frozen=True)
class Task:
    name: str
    summary: str
    data: Callable[[], Data]
    model: Callable[[], nn.Module]
    optimizer: Callable[..., torch.optim.Optimizer]  # (params, lr) -> optimizer
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    batch_size: int
    epochs: int
    weight_decay: float = 0.0  # also given to the learning-rate-free optimizers

    def steps_per_epoch(self) -> int:
        return -(-len(self.data()[0]) // self.batch_size)


def _split(x: torch.Tensor, y: torch.Tensor, val_fraction: float = 0.2) -> Data:
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    n_val = int(len(x) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val])


def _standardize(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean(0)) / x.std(0).clamp_min(1e-8)


@functools.cache
def digits_images() -> Data:
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    x = torch.tensor(images, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    return _split(x, torch.tensor(labels))


@functools.cache
def digits_flat() -> Data:
    train, val = digits_images()
    return tuple(TensorDataset(d.tensors[0].flatten(1), d.tensors[1]) for d in (train, val))


@functools.cache
def digits_rows() -> Data:
    """Each 8x8 digit read as a sequence of 8 rows of 8 pixels."""
    train, val = digits_images()
    return tuple(TensorDataset(d.tensors[0].squeeze(1), d.tensors[1]) for d in (train, val))


@functools.cache
def friedman() -> Data:
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=2000, noise=1.0, random_state=0)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    return _split(_standardize(x), ((y - y.mean()) / y.std()).unsqueeze(1))


@functools.cache
def breast_cancer() -> Data:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return _split(_standardize(torch.tensor(x, dtype=torch.float32)), torch.tensor(y))


@functools.cache
def noisy_classes() -> Data:
    """A 20-feature, 4-class problem with 5 % flipped labels: a net that can overfit it will."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=3000, n_features=20, n_informative=10, n_classes=4, flip_y=0.05, class_sep=1.0, random_state=0
    )
    return _split(torch.tensor(x, dtype=torch.float32), torch.tensor(y))


@functools.cache
def token_majority() -> Data:
    """Sequences of 16 tokens from 8; the label is which of tokens 0, 1, 2 occurs most often.

    Ties go to the lowest token. A tenth of the labels are redrawn at random, so the best
    validation loss stays well above zero and ratios of losses measure something.
    """
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 8, (4000, 16), generator=g)
    counts = torch.stack([(tokens == t).sum(1) for t in range(3)], 1)
    labels = (counts - torch.arange(3) * 0.1).argmax(1)
    noisy = torch.rand(len(labels), generator=g) < 0.1
    labels[noisy] = torch.randint(0, 3, (int(noisy.sum()),), generator=g)
    return _split(tokens, labels)


def _mlp(*widths: int, dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class RowGRU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(8, 64, batch_first=True)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        _, last = self.gru(x)
        return self.head(last[-1])


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int = 8, length: int = 16, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(torch.randn(length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, nhead=4, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(width, 3)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens) + self.position).mean(1))


def _sgd(momentum: float = 0.9, weight_decay: float = 0.0):
    return lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _adam(params, lr):
    return torch.optim.Adam(params, lr=lr)


def _adamw(weight_decay: float):
    return lambda params, lr: torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def _mse(prediction, target):
    return nn.functional.mse_loss(prediction, target)


_xent = nn.functional.cross_entropy

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "digits_mlp_adam",
            "MLP 64-128-128-10 on digits, Adam, batch 32, 5 epochs",
            digits_flat,
            lambda: _mlp(64, 128, 128, 10),
            _adam,
            _xent,
            32,
            5,
        ),
        Task(
            "digits_cnn_sgd",
            "BatchNorm CNN on digits, SGD momentum 0.9, batch 64, 8 epochs",
            digits_images,
            digits_cnn,
            _sgd(),
            _xent,
            64,
            8,
        ),
        Task(
            "friedman_mlp_adamw",
            "regression MLP on Friedman #1 (noise 1), AdamW wd 0.01, MSE, batch 32, 6 epochs",
            friedman,
            lambda: _mlp(10, 64, 64, 1),
            _adamw(0.01),
            _mse,
            32,
            6,
            weight_decay=0.01,
        ),
        Task(
            "cancer_batch8_adam",
            "MLP 30-32-2 on breast cancer, Adam, batch 8 (small-batch tabular), 4 epochs",
            breast_cancer,
            lambda: _mlp(30, 32, 2),
            _adam,
            _xent,
            8,
            4,
        ),
        Task(
            "digits_gru_adam",
            "GRU(64) reading digits row by row, Adam, batch 32, 5 epochs",
            digits_rows,
            RowGRU,
            _adam,
            _xent,
            32,
            5,
        ),
        Task(
            "classes_dropout_sgd",
            "MLP 20-256-256-4 with dropout 0.3, SGD momentum 0.9 + wd 5e-4, batch 64, 6 epochs",
            noisy_classes,
            lambda: _mlp(20, 256, 256, 4, dropout=0.3),
            _sgd(weight_decay=5e-4),
            _xent,
            64,
            6,
            weight_decay=5e-4,
        ),
        Task(
            "tokens_transformer_adamw",
            "2-layer transformer (width 32, dropout 0.1), 10 % label noise, AdamW wd 0.01, batch 64, 5 epochs",
            token_majority,
            TinyTransformer,
            _adamw(0.01),
            _xent,
            64,
            5,
            weight_decay=0.01,
        ),
    )
}
