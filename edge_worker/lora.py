"""Per-system LoRA adapters on one shared model: the adapters' linear layers become mlx-lm LoRALinear layers once,
and applying an adapter sets their low-rank weights and scale (scale 0 elsewhere, so the base model's output is
unchanged: y + 0 * z = y).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_unflatten
from mlx_lm.tuner.lora import LoRALinear
from mlx_lm.tuner.utils import remove_lora_layers

from edge_worker.model_store import ADAPTER_CONFIG, ADAPTER_WEIGHTS, ModelStoreError, adapter_dir

PROMPTS = ("few-shot", "zero-shot")  # the prompt an adapter is trained and served with


@dataclass(frozen=True)
class Adapter:
    """One adapter's weights: module path -> (lora_a, lora_b), its scale (mlx-lm's lora_parameters.scale), and the
    prompt it was trained on and is served with: "few-shot" (the system's worked examples shown) or "zero-shot"."""

    version: str
    scale: float
    layers: dict[str, tuple[mx.array, mx.array]]
    prompt: str = "few-shot"


def read_adapter(folder: Path, version: str) -> Adapter:
    """An adapter in mlx-lm's layout (adapters.safetensors + adapter_config.json). Raises ModelStoreError."""
    try:
        config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        weights = mx.load(str(folder / ADAPTER_WEIGHTS))
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelStoreError(f"adapter {version} cannot be read from {folder}: {error}") from None
    if config.get("fine_tune_type", "lora") != "lora":
        raise ModelStoreError(f"adapter {version}: only LoRA adapters can be applied per system")
    arrays: dict[str, mx.array] = dict(weights)  # type: ignore[arg-type]  # mx.load of a .safetensors file
    layers: dict[str, tuple[mx.array, mx.array]] = {}
    for name in arrays:
        if name.endswith(".lora_a"):
            module = name[: -len(".lora_a")]
            layers[module] = (arrays[name], arrays[f"{module}.lora_b"])
    prompt = config.get("prompt", "few-shot")  # adapters made before the choice existed were few-shot
    if prompt not in PROMPTS:
        raise ModelStoreError(f"adapter {version}: unknown prompt {prompt!r} (known: {', '.join(PROMPTS)})")
    return Adapter(version, float(config["lora_parameters"]["scale"]), layers, prompt)


def load_adapter(version: str) -> Adapter:
    return read_adapter(adapter_dir(version), version)


class AdapterSwitch:
    """Applies one adapter (or none) at a time to `model`; `active` is the version applied now."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.adapters: dict[str, Adapter] = {}
        self.active: str | None = None
        self._layers: list[tuple[str, LoRALinear]] = []

    def add(self, adapter: Adapter) -> None:
        """Make `adapter` applicable: its layers become LoRALinear (scale 0 until applied)."""
        modules = dict(self.model.named_modules())
        swaps = []
        for path, (lora_a, _) in adapter.layers.items():
            module = modules.get(path)
            if module is None:
                raise ModelStoreError(f"adapter {adapter.version}: the model has no layer {path}")
            if isinstance(module, (nn.Linear, nn.QuantizedLinear)):
                lora = LoRALinear.from_base(module, r=lora_a.shape[1], scale=0.0)  # type: ignore[arg-type]
                swaps.append((path, lora))
            elif not isinstance(module, LoRALinear):
                raise ModelStoreError(f"adapter {adapter.version}: layer {path} is a {type(module).__name__}")
        if swaps:
            self.model.update_modules(tree_unflatten(swaps))
        self._layers = [(path, m) for path, m in self.model.named_modules() if isinstance(m, LoRALinear)]
        self.adapters[adapter.version] = adapter
        self.apply(self.active)

    def retain(self, versions: set[str]) -> None:
        """Forget every adapter but these; with none left the model gets its plain linear layers back."""
        for version in set(self.adapters) - versions:
            del self.adapters[version]
        if self.active not in self.adapters:
            self.apply(None)
        if not self.adapters and self._layers:
            remove_lora_layers(self.model)
            self._layers = []

    def apply(self, version: str | None) -> None:
        """Use this adapter's weights in every LoRA layer (layers it does not adapt, and None, get scale 0)."""
        adapter = self.adapters.get(version) if version else None
        for path, module in self._layers:
            weights = adapter.layers.get(path) if adapter else None
            if weights is None:
                module.scale = 0.0
            else:
                module.lora_a, module.lora_b = weights
                module.scale = adapter.scale  # type: ignore[union-attr]
        self.active = adapter.version if adapter else None
