"""Train a LoRA adapter with mlx-lm's tuner (linear_to_lora_layers, train/TrainingArgs, default_loss with the
prompt masked) and leave it in mlx-lm's adapter layout: adapters.safetensors + adapter_config.json."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.optimizers as optim
from mlx.utils import tree_flatten
from mlx_lm.tuner.callbacks import TrainingCallback
from mlx_lm.tuner.trainer import TrainingArgs, train
from mlx_lm.tuner.utils import linear_to_lora_layers, remove_lora_layers

from edge_worker.model_store import ADAPTER_CONFIG, ADAPTER_WEIGHTS

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TuneSettings:
    """LoRA and training settings (names as in mlx-lm's lora config: rank, scale, num_layers)."""

    iters: int = 100
    rank: int = 8
    num_layers: int = 8  # the last N transformer blocks get LoRA layers
    scale: float = 20.0
    learning_rate: float = 1e-4
    batch_size: int = 1
    max_seq_length: int = 4096
    mask_prompt: bool = True
    seed: int = 0
    prompt: str = "zero-shot"  # edge_worker.lora.PROMPTS: the prompt trained on, and served with the adapter

    def lora_parameters(self) -> dict[str, Any]:
        return {"rank": self.rank, "scale": self.scale, "dropout": 0.0}


class _TimeUp(Exception):
    """The time budget ended training after the iteration just reported."""


class _Report(TrainingCallback):
    """Iteration, loss and ETA for each report of mlx-lm's trainer; stops training once `deadline` has passed."""

    def __init__(self, iters: int, progress: Progress, deadline: float | None) -> None:
        self.iters, self.progress, self.started, self.deadline = iters, progress, time.perf_counter(), deadline
        self.losses: list[tuple[int, float]] = []

    def on_train_loss_report(self, train_info: dict[str, Any]) -> None:
        iteration, loss = int(train_info["iteration"]), float(train_info["train_loss"])
        self.losses.append((iteration, loss))
        now = time.perf_counter()
        eta = (now - self.started) / iteration * (self.iters - iteration)
        self.progress(f"iteration {iteration}/{self.iters}  loss {loss:.3f}  ETA {eta:.0f} s")
        if self.deadline is not None and now >= self.deadline and iteration < self.iters:
            raise _TimeUp


def train_adapter(
    model: Any,
    sequences: list[tuple[list[int], int]],
    settings: TuneSettings,
    folder: Path,
    progress: Progress,
    deadline: float | None = None,
) -> list[tuple[int, float]]:
    """Train LoRA layers on `sequences` ((tokens, offset) items), write the adapter to `folder`, and give the model
    its base layers back. Returns the (iteration, loss) of each iteration run: all `settings.iters`, or fewer when
    `deadline` (time.perf_counter() seconds) passes first. Raises ValueError without sequences."""
    if not sequences:
        raise ValueError("no training examples")
    folder.mkdir(parents=True, exist_ok=True)
    mx.random.seed(settings.seed)
    config: dict[str, Any] = {
        "fine_tune_type": "lora",
        "prompt": settings.prompt,
        "num_layers": settings.num_layers,
        "lora_parameters": settings.lora_parameters(),
        "settings": asdict(settings),
    }
    model.freeze()
    linear_to_lora_layers(model, settings.num_layers, settings.lora_parameters())
    args = TrainingArgs(
        batch_size=min(settings.batch_size, len(sequences)),
        iters=settings.iters,
        steps_per_report=1,
        steps_per_eval=settings.iters + 1,
        steps_per_save=settings.iters + 1,
        max_seq_length=settings.max_seq_length,
        adapter_file=str(folder / ADAPTER_WEIGHTS),
    )
    report = _Report(settings.iters, progress, deadline)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # mlx-lm's own progress bar; ours goes to `progress`
            train(
                model, optim.Adam(learning_rate=settings.learning_rate), sequences, None, args, training_callback=report
            )
    except _TimeUp:  # mlx-lm saves at the end only: save what the iterations so far learnt
        mx.save_safetensors(args.adapter_file, dict(tree_flatten(model.trainable_parameters())))
        progress(f"time budget reached after {len(report.losses)} of {settings.iters} iterations")
    finally:
        remove_lora_layers(model)
        model.unfreeze()
        model.eval()
    config["iterations_run"] = len(report.losses)
    (folder / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report.losses
