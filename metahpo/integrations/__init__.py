"""Thin adapters that run metahpo optimizers inside Optuna studies and Ray Tune."""
