"""Screening a policy's draws with a GP of the history: it picks what the history favours, and
it makes the shipped default policy find better configurations on held-out functions."""

import numpy as np
import pytest

from metahpo import Categorical, Float, Int, MetaHPOError, SearchSpace, create_optimizer
from metahpo.screening import GramFactors, expected_improvement, pick, posterior
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.synthetic import SyntheticTask


def test_expected_improvement_prefers_the_unexplored_side_of_the_best_trial():
    points = np.array([[0.1], [0.3], [0.5], [0.7], [0.9]])
    losses = (points[:, 0] - 0.62) ** 2
    candidates = np.array([[0.05], [0.6], [0.95]])
    ei = expected_improvement(points, losses, candidates)
    assert ei.shape == (3,) and np.all(ei >= 0)
    assert int(np.argmax(ei)) == 1


def test_expected_improvement_ignores_the_scale_of_the_losses():
    rng = np.random.default_rng(0)
    points, candidates = rng.random((8, 3)), rng.random((16, 3))
    losses = rng.random(8)
    assert np.allclose(expected_improvement(points, losses, candidates),
                       expected_improvement(points, 1e6 * losses ** 3 - 7, candidates))


def test_too_few_successful_trials_play_the_first_draw():
    points = np.array([[0.2], [0.4], [0.6]])
    failed = np.array([False, True, False])
    assert pick(points, np.array([1.0, 0.0, 2.0]), failed, np.array([[0.9], [0.3]])) == 0


def test_failed_trials_count_as_the_worst_so_the_screen_avoids_where_trials_fail():
    points = np.array([[0.1], [0.3], [0.5], [0.55], [0.6], [0.9]])
    losses = np.array([0.5, 0.1, 0.0, 0.0, 0.0, 0.9])
    failed = np.array([False, False, True, True, True, False])
    candidates = np.array([[0.25], [0.55]])
    assert pick(points, losses, failed, candidates) == 0
    assert pick(points[~failed], losses[~failed], failed[~failed], candidates) == 1


def test_pick_runs_blas_on_one_thread_and_gives_the_caller_its_threads_back(monkeypatch):
    from threadpoolctl import threadpool_info, threadpool_limits

    import metahpo.screening as screening

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    inside = []

    def recording(*args, **kwargs):
        inside.extend(blas_threads())
        return expected_improvement(*args, **kwargs)

    monkeypatch.setattr(screening, "expected_improvement", recording)
    rng = np.random.default_rng(1)
    points, losses, candidates = rng.random((30, 4)), rng.random(30), rng.random((64, 4))
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        chosen = pick(points, losses, np.zeros(30, dtype=bool), candidates)
        after = blas_threads()
    assert inside and set(inside) == {1}
    assert after == before
    assert chosen == int(np.argmax(expected_improvement(points, losses, candidates)))


def test_a_long_search_keeps_its_factor_and_scores_as_if_it_factored_afresh(monkeypatch):
    """Past the fresh-factor limit the posterior comes from the kept factor: equal to the
    fresh one up to rounding at every step, to the last bit whichever way the kept factor was
    reached (grown step by step, built at once, after a rewind, after a changed trial)."""
    import metahpo.screening as screening

    monkeypatch.setattr(screening, "FRESH_FACTOR_UP_TO", 20)
    monkeypatch.setattr(screening, "FACTOR_BLOCK", 4)
    rng = np.random.default_rng(0)
    points, y = rng.random((60, 3)), rng.normal(size=60)
    candidates, pending = rng.random((10, 3)), rng.random((2, 3))
    kept = GramFactors()
    for n in range(3, 61):
        for running in (None, pending):
            grown = posterior(points[:n], y[:n], candidates, pending=running, factors=kept)
            fresh = posterior(points[:n], y[:n], candidates, pending=running)
            np.testing.assert_allclose(grown, fresh, rtol=1e-9, atol=1e-12)
    at_once = posterior(points, y, candidates, pending=pending, factors=GramFactors())
    assert np.array_equal(grown, at_once)
    rewound = posterior(points[:45], y[:45], candidates, factors=kept)
    assert np.array_equal(rewound, posterior(points[:45], y[:45], candidates,
                                             factors=GramFactors()))
    changed = points.copy()
    changed[30] = 0.5
    other = posterior(changed, y, candidates, factors=kept)
    assert np.array_equal(other, posterior(changed, y, candidates, factors=GramFactors()))
    np.testing.assert_allclose(other, posterior(changed, y, candidates), rtol=1e-9, atol=1e-12)


def test_a_very_long_search_screens_with_the_trials_nearest_its_incumbent(monkeypatch):
    """Past the screened limit the GP reads only the trials nearest the incumbent, so its cost
    stops growing with the search: what the far trials scored moves the choice while every
    trial is read, and no longer past the limit."""
    import metahpo.screening as screening

    monkeypatch.setattr(screening, "FRESH_FACTOR_UP_TO", 20)
    monkeypatch.setattr(screening, "FACTOR_BLOCK", 4)
    monkeypatch.setattr(screening, "SCREENED_UP_TO", 40)
    monkeypatch.setattr(screening, "NEAREST_SCREENED", 16)
    rng = np.random.default_rng(1)
    points = rng.random((60, 3))
    distance = ((points - 0.3) ** 2).sum(1)
    losses, failed = distance.copy(), np.zeros(60, dtype=bool)
    incumbent = points[np.argmin(losses)]
    candidates = np.clip(incumbent + 0.05 * rng.normal(size=(32, 3)), 0.0, 1.0)
    far = np.argsort(((points - incumbent) ** 2).sum(1))[16:]
    shuffles = []
    for _ in range(8):
        shuffled = losses.copy()
        shuffled[far] = rng.permutation(losses[far])
        shuffles.append(shuffled)
    kept = GramFactors()
    assert len({pick(points, s, failed, candidates, factors=kept) for s in shuffles}) == 1
    monkeypatch.setattr(screening, "SCREENED_UP_TO", 100)
    assert len({pick(points, s, failed, candidates, factors=kept) for s in shuffles}) > 1


def run(task, seed, budget, **options):
    opt = create_optimizer("meta", task.space, direction="minimize", seed=seed, **options)
    for _ in range(budget):
        trial = opt.ask()
        opt.tell(trial, task.evaluate(trial.params))
    return opt


def test_screening_lowers_the_default_policys_regret_on_held_out_functions():
    tasks = [SyntheticTask(f, 5, 1_000_000 + i) for f in ("sphere", "gp", "rosenbrock") for i in range(3)]
    regret = {0: [], 64: []}
    for task in tasks:
        bounds = task_bounds(task, n_random=20_000, use_cache=False)
        for seed in range(3):
            for screen in regret:
                regret[screen].append(float(bounds.regret(run(task, seed, 20, screen=screen).best.value)))
    # Fixed seeds make this deterministic; measured 0.104 (screened) vs 0.160 (unscreened), lower
    # in 23 of 27 runs. metahpo/policies/README.md shows the same on 24 functions x 3 seeds.
    assert np.mean(regret[64]) < 0.8 * np.mean(regret[0]), {k: np.mean(v) for k, v in regret.items()}


def test_the_default_policy_screens_by_default_and_a_bad_setting_is_refused():
    space = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])
    assert create_optimizer("meta", space).screen == 64
    assert create_optimizer("meta", space, screen=0).screen == 0
    for bad in (-1, 2.5, True):
        with pytest.raises(MetaHPOError, match="screen"):
            create_optimizer("meta", space, screen=bad)


def test_screen_zero_plays_the_policys_own_draws():
    task = SyntheticTask("sphere", 3, 1_000_000)
    a = run(task, 0, 12, screen=0)
    b = run(task, 0, 12, screen=1)
    assert [t.params for t in a.history] == [t.params for t in b.history]


def test_meta_train_chooses_the_screen_on_validation_tasks_and_the_optimizer_uses_it(tmp_path):
    import subprocess
    import sys

    from metahpo.policy import load_policy

    out = tmp_path / "p.safetensors"
    done = subprocess.run(
        [sys.executable, "-m", "metahpo", "meta-train", "--tasks", "synthetic:sphere", "--dims", "2",
         "--iterations", "2", "--horizon", "12", "--random-design", "3", "--local-start",
         "--choose-screen", "--out", str(out), "--quiet"],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _, info = load_policy(out)
    scores = info.notes["screen_validation"]
    assert set(scores) == {"0", "64"}
    assert info.screen == min((0, 64), key=lambda k: (scores[str(k)], k))
    assert f"screen {info.screen}" in done.stdout
    space = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])
    assert create_optimizer("meta", space, policy=str(out)).screen == info.screen


def test_the_screened_policy_does_not_keep_proposing_where_trials_fail():
    """Beside the optimum lies a region where every trial fails; failures left out of the GP
    looked unexplored and drew about 19 of 30 trials there (random search: about 6)."""
    space = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0), Float("z", 0.0, 1.0)])

    def objective(p):
        if 0.35 <= p["x"] <= 0.55:
            return None
        return (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2 + (p["z"] - 0.5) ** 2

    failed = []
    for seed in range(5):
        opt = create_optimizer("meta", space, seed=seed)
        for _ in range(30):
            trial = opt.ask()
            opt.tell(trial, objective(trial.params))
        failed.append(sum(r.error is not None for r in opt.history))
    assert np.mean(failed) <= 6, failed


def test_a_choice_whose_first_trials_failed_is_tried_again_elsewhere():
    """The large model fails at its larger batches and is best at the smallest; without the
    retried choice's candidates, 2 of these 8 searches (seeds 0 and 4) never ran it
    successfully."""
    space = SearchSpace([Categorical("model", ["small", "large"]),
                         Categorical("batch_size", [64, 128, 256]),
                         Float("lr", 1e-4, 1e-1, log=True), Int("epochs", 5, 50)])

    def objective(p):
        if p["model"] == "large" and p["batch_size"] > 64:
            return None
        return ({"small": 0.3, "large": 0.12}[p["model"]] + abs(np.log10(p["lr"]) + 2.5)
                + 0.004 * abs(p["epochs"] - 10))

    for seed in range(8):
        opt = create_optimizer("meta", space, seed=seed)
        for _ in range(25):
            trial = opt.ask()
            opt.tell(trial, objective(trial.params))
        assert any(r.error is None and r.params["model"] == "large" for r in opt.history), seed


@pytest.mark.parametrize("policy, incumbent_at, trials, options, candidates", [
    ("default", 10, 60, {}, 64 + 64),    # past the horizon of 50, incumbent 49 trials old: stalled
    ("default", 45, 60, {}, 64),         # incumbent 14 trials old: still improving
    ("default", 45, 60, {"stall_trials": 10}, 64 + 64),   # ... unless 10 trials are a stall
    ("default", 10, 60, {"stall_trials": None}, 64),      # no rescue asked for
    ("default", 5, 45, {}, 64),          # within the horizon
    ("lcbench", 10, 60, {}, None),       # a policy played unscreened stays so
])
def test_a_search_that_outruns_its_policy_and_stalls_also_screens_uniform_candidates(
        monkeypatch, policy, incumbent_at, trials, options, candidates):
    """Past the searches it was meta-trained on (50 trials), a policy keeps its narrowest spread
    around the incumbent; once that has stopped paying (30 trials without a new incumbent) the
    screen also weighs uniform draws, so the GP can take the search elsewhere."""
    import metahpo.optimizers.policy_driven as policy_driven
    from metahpo.tasks.yahpo import YahpoScenario

    space = YahpoScenario("lcbench").space
    opt = create_optimizer("meta", space, policy=policy, seed=0, **options)
    rng = np.random.default_rng(0)
    for n in range(trials):
        opt.add_trial(space.decode(rng.random(space.dim)), 0.0 if n == incumbent_at else 1.0 + n)
    seen = []

    def spy(points, losses, failed, draws, *args, **kwargs):
        seen.append(len(draws))
        return pick(points, losses, failed, draws, *args, **kwargs)

    monkeypatch.setattr(policy_driven, "pick", spy)
    space.validate(opt.ask().params)
    assert seen == ([] if candidates is None else [candidates])


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "30"])
def test_a_bad_stall_window_is_named(value):
    with pytest.raises(MetaHPOError, match="stall_trials must be a whole number of trials >= 1 or None"):
        create_optimizer("meta", SearchSpace([Float("x", 0.0, 1.0)]), stall_trials=value)
