"""The conformance suite every registered optimizer must pass.

Use it from a test module, parametrized over :func:`metahpo.available_optimizers`::

    @pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.__name__)
    @pytest.mark.parametrize("name", available_optimizers())
    def test_conformance(name, check):
        check(name, **OPTIONS.get(name, {}))

An optimizer of your own is checked the same way by reference, ``check("my_package.opt:MyOpt")``
or ``check("path/to/file.py:MyOpt")`` (see :func:`metahpo.create_optimizer`).

Each check builds fresh optimizers with ``create_optimizer(name, space, seed=..., **options)``,
drives them through the ask/tell contract and raises ``AssertionError`` on a violation. Budgets
are small so that the whole suite runs in seconds per optimizer. An option value may be a
callable ``f(space) -> value`` for options that depend on the space (e.g. a portfolio file).
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.optimizers.base import Optimizer
from metahpo.optimizers.registry import create_optimizer, restore_optimizer
from metahpo.space import Categorical, Condition, Float, Int, SearchSpace
from metahpo.trial import TrialState


def mixed_space(n: int) -> SearchSpace:
    """A space of ``n`` parameters cycling through every parameter kind."""
    makers: list[Callable[[int], Any]] = [
        lambda i: Float(f"x{i}", -2.0, 3.0),
        lambda i: Float(f"x{i}", 1e-5, 1e-1, log=True),
        lambda i: Int(f"x{i}", -3, 7),
        lambda i: Int(f"x{i}", 16, 512, log=True),
        lambda i: Categorical(f"x{i}", ["a", "b", "c"]),
        lambda i: Float(f"x{i}", 0.0, 1.0, step=0.25),
        lambda i: Int(f"x{i}", 0, 20, step=5),
        lambda i: Categorical(f"x{i}", [1, 2.5, "auto", None]),
        lambda i: Categorical(f"x{i}", [True, False]),
    ]
    return SearchSpace([makers[i % len(makers)](i) for i in range(n)])


def conditional_space() -> SearchSpace:
    """A space with conditional parameters: ``momentum`` for two of three optimizers,
    ``warmup`` for ``sgd`` only and ``warmup_epochs`` only with ``warmup`` on (nested), the width
    of a third layer only with three layers."""
    return SearchSpace(
        [Categorical("optimizer", ["adam", "sgd", "rmsprop"]), Float("momentum", 0.0, 0.99),
         Categorical("warmup", [True, False]), Int("warmup_epochs", 1, 5),
         Int("layers", 1, 3), Int("width3", 8, 256, log=True), Float("lr", 1e-4, 1e-1, log=True)],
        conditions={"momentum": Condition("optimizer", ["sgd", "rmsprop"]),
                    "warmup": Condition("optimizer", "sgd"),
                    "warmup_epochs": Condition("warmup", True),
                    "width3": Condition("layers", 3)},
    )


def restricted_space() -> SearchSpace:
    """A space with an either-or condition on two parents (a third layer's width for two of
    three models with three layers or more, or the CNN with four), a forbidden combination (the
    CNN with the larger batches) and a forbidden relation (a warm-up as long as the
    training)."""
    return SearchSpace(
        [Categorical("model", ["mlp", "cnn", "rnn"]), Int("layers", 1, 4),
         Int("units_3", 8, 256, log=True), Categorical("batch_size", [32, 64, 128]),
         Int("epochs", 1, 20), Int("warmup", 0, 10), Float("lr", 1e-4, 1e-1, log=True)],
        conditions={"units_3": Condition([{"model": ["mlp", "rnn"], "layers": [3, 4]},
                                          {"model": "cnn", "layers": 4}])},
        forbidden=[{"model": "cnn", "batch_size": [64, 128]}, "warmup >= epochs"],
    )


SPACES = {
    "float1": SearchSpace([Float("x", -1.0, 1.0)]),
    "logint1": SearchSpace([Int("n", 1, 1000, log=True)]),
    "cat1": SearchSpace([Categorical("c", ["relu", "tanh", "gelu"])]),
    "mixed20": mixed_space(20),
    "conditional": conditional_space(),
    "restricted": restricted_space(),
    "fixed": SearchSpace([Float("x", -1.0, 1.0), Int("epochs", 10, 10),
                          Categorical("act", ["relu"]), Float("wd", 1e-4, 1e-4, log=True),
                          Int("n", 1, 8)]),
}


def _objective(space: SearchSpace, params: dict[str, Any]) -> float:
    """A smooth deterministic test objective on the unit cube (minimum near 0.3 everywhere)."""
    u = space.encode(params)
    return float(((u - 0.3) ** 2).sum())


def _check_params(space: SearchSpace, params: dict[str, Any]) -> None:
    active = space.active_names(params)
    assert list(params) == active, f"params {list(params)} != active names {active}"
    for p in space:
        if p.name not in params:
            continue
        v = params[p.name]
        if isinstance(p, Float):
            assert isinstance(v, float), f"{p.name}: {v!r} is not a float"
            assert p.low <= v <= p.high, f"{p.name}: {v} outside [{p.low}, {p.high}]"
            if p.step is not None:
                assert p.contains(v), f"{p.name}: {v} is not on the step grid"
        elif isinstance(p, Int):
            assert type(v) is int, f"{p.name}: {v!r} is not an int"
            assert p.low <= v <= p.high, f"{p.name}: {v} outside [{p.low}, {p.high}]"
            assert (v - p.low) % p.step == 0, f"{p.name}: {v} is not on the step grid"
        else:
            assert p.contains(v), f"{p.name}: {v!r} is not one of {p.choices}"
            assert any(type(c) is type(v) and c == v for c in p.choices), (
                f"{p.name}: {v!r} has the wrong type for choices {p.choices}"
            )


def _make(name: str, space: SearchSpace, options: dict[str, Any], **kwargs: Any) -> Optimizer:
    resolved = {k: (v(space) if callable(v) else v) for k, v in options.items()}
    return create_optimizer(name, space, **kwargs, **resolved)


def _run(opt: Optimizer, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        trial = opt.ask()
        out.append(dict(trial.params))
        opt.tell(trial, _objective(opt.space, trial.params))
    return out


def check_bounds_and_types(name: str, **options: Any) -> None:
    """Every proposal is inside its bounds, on its step grid, and of the parameter's type, in
    both directions (the spaces take turns: minimized, maximized, ...)."""
    for i, (label, space) in enumerate(SPACES.items()):
        opt = _make(name, space, options, direction=("minimize", "maximize")[i % 2], seed=0)
        for params in _run(opt, 12):
            _check_params(space, params)
        assert len(opt.history) == 12, f"{label}: history has {len(opt.history)} trials"


def check_same_seed_same_sequence(name: str, **options: Any) -> None:
    """Two optimizers with the same seed and the same tells propose the same trials."""
    space = SPACES["mixed20"]
    a = _run(_make(name, space, options, seed=7), 10)
    b = _run(_make(name, space, options, seed=7), 10)
    assert a == b, "the same seed gave different sequences"


def check_failed_trials(name: str, **options: Any) -> None:
    """None, NaN, inf and explicit errors are recorded as FAILED and the optimizer carries on,
    also through a long streak of failures after good trials (a region where training runs out
    of memory)."""
    for space in (SPACES["float1"], SPACES["mixed20"]):
        opt = _make(name, space, options, seed=1)
        bad = [None, math.nan, math.inf, -math.inf, "error"]
        for i in range(15):
            trial = opt.ask()
            _check_params(space, dict(trial.params))
            if i % 3 == 0:
                kind = bad[(i // 3) % len(bad)]
                rec = opt.tell(trial, error="boom") if kind == "error" else opt.tell(trial, kind)
                assert rec.state is TrialState.FAILED and rec.error, "a bad value was not FAILED"
            else:
                opt.tell(trial, _objective(space, trial.params))
        states = [r.state for r in opt.history]
        assert states.count(TrialState.FAILED) == 5, states
        all_failed = _make(name, space, options, seed=2)
        for _ in range(8):
            trial = all_failed.ask()
            _check_params(space, dict(trial.params))
            all_failed.tell(trial, error="always fails")
    space = SPACES["float1"]
    streak = _make(name, space, options, seed=3)
    for i in range(18):
        trial = streak.ask()
        _check_params(space, dict(trial.params))
        streak.tell(trial, _objective(space, trial.params) if i < 6 else None)


def check_values_of_any_magnitude(name: str, **options: Any) -> None:
    """Finite values of any magnitude (a diverged training's loss, a metric in odd units)
    are told as complete trials, and the optimizer goes on proposing valid configurations:
    checked near float32's limit (3e38) and near float64's (-1e307), over twelve trials:
    enough model-based proposals after a random start-up of six for Optuna's GP, told values
    near float64's limit untransformed, to fail within them."""
    space = mixed_space(8)
    for scale in (3e38, -1e307):
        opt = _make(name, space, options, seed=5)
        for _ in range(12):
            trial = opt.ask()
            _check_params(space, dict(trial.params))
            rec = opt.tell(trial, scale * (1.0 + _objective(space, trial.params)))
            assert rec.state is TrialState.COMPLETE, f"a value of scale {scale} was {rec.state}"


def check_pending_trials(name: str, **options: Any) -> None:
    """Several asks before the tells are allowed; pending continuous proposals are distinct."""
    space = SearchSpace([Float("a", 0.0, 1.0), Float("b", -5.0, 5.0), Float("c", 1e-3, 1.0, log=True)])
    opt = _make(name, space, options, seed=3)
    _run(opt, 3)
    for _ in range(3):
        batch = [opt.ask() for _ in range(4)]
        numbers = [t.number for t in batch]
        assert len(set(numbers)) == 4, f"pending trials share numbers: {numbers}"
        points = {tuple(sorted(t.params.items())) for t in batch}
        assert len(points) == 4, "pending trials repeat each other"
        assert len(opt.pending) == 4
        for t in reversed(batch):
            _check_params(space, dict(t.params))
            opt.tell(t, _objective(space, t.params))
    assert not opt.pending
    trial = opt.ask()
    opt.tell(trial, 1.0)
    for bad in (lambda: opt.tell(trial, 1.0), lambda: opt.tell(type(trial)(10_000, trial.params), 1.0)):
        try:
            bad()
        except MetaHPOError:
            continue
        raise AssertionError("telling a finished or unknown trial did not raise MetaHPOError")


def check_withdrawn_trials(name: str, **options: Any) -> None:
    """A withdrawn pending trial (``withdraw``, an interrupted run), asked or added from
    elsewhere, leaves no history and no pending trial; proposals go on, a restored optimizer
    matches the original, and a trial that is not pending cannot be withdrawn."""
    space = SearchSpace([Float("a", 0.0, 1.0), Float("b", -5.0, 5.0), Int("n", 1, 6)])
    opt = _make(name, space, options, seed=9)
    _run(opt, 4)
    elsewhere = opt.add_pending(space.decode(np.full(space.dim, 0.3)))
    mine, kept = opt.ask(), opt.ask()
    opt.withdraw(elsewhere)
    opt.withdraw(mine)
    assert [t.number for t in opt.pending] == [kept.number]
    assert [r.number for r in opt.history] == [0, 1, 2, 3]
    for bad in (elsewhere, type(mine)(10_000, mine.params)):
        try:
            opt.withdraw(bad)
        except MetaHPOError:
            continue
        raise AssertionError("withdrawing a trial that is not pending did not raise MetaHPOError")
    clone = restore_optimizer(json.loads(json.dumps(opt.state_dict())))
    for o in (opt, clone):
        o.tell(o.pending[0], _objective(space, kept.params))
    ours, theirs = _run(opt, 4), _run(clone, 4)
    for params in ours:
        _check_params(space, params)
    assert ours == theirs, "restored optimizer diverged from the original"
    assert [r.number for r in opt.history][4:] == [kept.number, kept.number + 1, kept.number + 2,
                                                   kept.number + 3, kept.number + 4]


def check_state_round_trip(name: str, **options: Any) -> None:
    """An optimizer restored from ``json(state_dict())`` proposes what the original would."""
    space = SPACES["mixed20"]
    opt = _make(name, space, options, seed=5)
    _run(opt, 4)
    opt.tell(opt.ask(), error="failed on purpose")
    stopped = opt.ask()
    opt.tell(stopped, error="pruned at step 2", last_report=(2, _objective(space, stopped.params)))
    pending = opt.ask()
    state = json.loads(json.dumps(opt.state_dict()))
    clone = restore_optimizer(state)
    assert [t.number for t in clone.pending] == [pending.number]
    clone.tell(clone.pending[0], _objective(space, pending.params))
    opt.tell(pending, _objective(space, pending.params))
    assert _run(opt, 3) == _run(clone, 3), "restored optimizer diverged from the original"


def check_replayed_trials(name: str, **options: Any) -> None:
    """Trials added from elsewhere (``add_trial``) are accepted and counted in the history."""
    space = SPACES["mixed20"]
    rng = np.random.default_rng(0)
    opt = _make(name, space, options, seed=4)
    for _ in range(6):
        params = space.decode(rng.random(space.dim))
        opt.add_trial(params, _objective(space, params))
    opt.add_trial(space.decode(rng.random(space.dim)), error="crashed elsewhere")
    opt.add_trial(space.decode(rng.random(space.dim)), error="pruned at step 3",
                  last_report=(3, 1.5))
    for params in _run(opt, 4):
        _check_params(space, params)
    assert [r.number for r in opt.history] == list(range(12))
    assert opt.history[7].last_report == (3, 1.5)


def check_trials_from_elsewhere(name: str, **options: Any) -> None:
    """A seeded search resumed from another run's trials (``add_trial``, with the
    ``optimizer_attrs`` each came with, as a study gives them) does not repeat them, and trials
    running elsewhere (``add_pending``) are pending until told, then finished."""
    space = SearchSpace([Float("a", 0.0, 1.0), Float("b", -5.0, 5.0), Float("c", 1e-3, 1.0, log=True)])
    run = _make(name, space, options, seed=6)
    first = _run(run, 6)
    resumed = _make(name, space, options, seed=6)
    for record in run.history:
        resumed.add_trial(record.params, record.value, optimizer_attrs=record.optimizer_attrs)
    seen = {tuple(sorted(p.items())) for p in first}
    for params in _run(resumed, 6):
        assert tuple(sorted(params.items())) not in seen, "the resumed search repeated a trial"
    elsewhere = [resumed.add_pending(p) for p in _run(_make(name, space, options, seed=7), 2)]
    assert [t.number for t in elsewhere] == [12, 13], [t.number for t in elsewhere]
    assert [t.number for t in resumed.pending] == [12, 13]
    mine = resumed.ask()
    assert mine.number == 14
    assert dict(mine.params) not in [dict(t.params) for t in elsewhere], "proposed a pending trial"
    state = json.loads(json.dumps(resumed.state_dict()))
    clone = restore_optimizer(state)
    for opt in (resumed, clone):
        for trial in [*elsewhere, mine]:
            opt.tell(trial, _objective(space, trial.params))
        assert not opt.pending
        assert [r.number for r in opt.history][-3:] == [12, 13, 14]
    assert _run(resumed, 3) == _run(clone, 3), "restored optimizer diverged from the original"


def check_wide_and_fine_grids(name: str, **options: Any) -> None:
    """Integers of 10**12 values and more, and steps a billionth of their range, are proposed
    on their grids and taken in from elsewhere, as any other parameter: methods that list every
    value (Optuna's GP) or check a value's grid position to 1e-8 steps (Optuna's trials) fail
    there unless they treat such a grid as continuous."""
    space = SearchSpace([Int("seed", 0, 10**12), Int("rows", 1, 10**12, log=True),
                         Int("k", -10**15, 10**15, step=1000), Float("w", 0.0, 1e6, step=1e-3),
                         Float("x", -1.0, 1.0)])
    rng = np.random.default_rng(0)
    opt = _make(name, space, options, seed=8)
    for u in rng.random((20, space.dim)):
        params = space.decode(u)
        opt.add_trial(params, _objective(space, params))
    for params in _run(opt, 6):
        _check_params(space, params)


def check_conditional_space(name: str, **options: Any) -> None:
    """In a conditional space every proposal holds exactly its active parameters, also after
    trials from elsewhere (which hold only theirs), pending and failed trials, and a restored
    optimizer proposes what the original would."""
    space = SPACES["conditional"]
    rng = np.random.default_rng(0)
    opt = _make(name, space, options, seed=8)
    for u in rng.random((4, space.dim)):
        params = space.decode(u)
        opt.add_trial(params, _objective(space, params))
    opt.add_pending(space.decode(rng.random(space.dim)))
    for params in _run(opt, 6):
        _check_params(space, params)
    opt.tell(opt.ask(), error="failed on purpose")
    clone = restore_optimizer(json.loads(json.dumps(opt.state_dict())))
    ours, theirs = _run(opt, 4), _run(clone, 4)
    for params in ours:
        _check_params(space, params)
    assert ours == theirs, "restored optimizer diverged from the original"


def check_forbidden_combinations(name: str, **options: Any) -> None:
    """No proposal is forbidden by the space's clauses or relations, also after trials from
    elsewhere, and a restored optimizer proposes what the original would."""
    space = SPACES["restricted"]
    rng = np.random.default_rng(1)
    opt = _make(name, space, options, seed=9)
    for _ in range(3):
        params = space.sample_allowed(rng)
        opt.add_trial(params, _objective(space, params))
    for params in _run(opt, 8):
        _check_params(space, params)
        assert space.forbids(params) is None, f"{params} is forbidden by {space.forbids(params)}"
    clone = restore_optimizer(json.loads(json.dumps(opt.state_dict())))
    ours, theirs = _run(opt, 3), _run(clone, 3)
    assert all(space.forbids(params) is None for params in ours), ours
    assert ours == theirs, "restored optimizer diverged from the original"


CONFORMANCE_CHECKS = [
    check_bounds_and_types,
    check_same_seed_same_sequence,
    check_failed_trials,
    check_values_of_any_magnitude,
    check_pending_trials,
    check_withdrawn_trials,
    check_state_round_trip,
    check_replayed_trials,
    check_trials_from_elsewhere,
    check_wide_and_fine_grids,
    check_conditional_space,
    check_forbidden_combinations,
]
