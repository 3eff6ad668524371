"""The metahpo version (recorded in checkpoints and results)."""

__version__ = "0.1.0"
