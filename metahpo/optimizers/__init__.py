"""Optimizers behind one ask/tell contract (see :mod:`metahpo.optimizers.base`)."""
