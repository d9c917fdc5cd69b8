"""LoRA tuning of the translator per system: training data (data), mlx-lm's trainer (train), and the
evaluate-then-adopt loop (tune)."""
