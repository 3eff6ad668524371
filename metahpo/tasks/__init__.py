"""Objectives to tune: real PyTorch trainings, surrogate benchmarks and synthetic functions."""
