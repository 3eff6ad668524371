"""MetaHPOSampler inside real Optuna studies, and Optuna's own sampler conformance tests."""

import math
import subprocess
import sys
import time

import optuna
import pytest
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)
from pareto import hypervolume, zdt1

from metahpo import Float, SearchSpace, create_optimizer
from metahpo.distributions import space_to_optuna
from metahpo.integrations.optuna import MetaHPOSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


class TestMetaSamplerBasics(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: MetaHPOSampler("meta", seed=0)


class TestMetaSamplerRelative(RelativeSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: MetaHPOSampler("meta", seed=0)


class TestMetaSamplerMultiObjective(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: MetaHPOSampler("meta", seed=0)


class TestEvolutionSamplerRelative(RelativeSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: MetaHPOSampler("evolution", seed=0, population_size=3, tournament_size=2)


def objective(trial):
    x = trial.suggest_float("x", -5, 5)
    n = trial.suggest_int("n", 1, 8)
    act = trial.suggest_categorical("act", ["relu", "tanh"])
    return (x - 1) ** 2 + n + (0.5 if act == "tanh" else 0.0)


def test_sampler_is_reproducible_and_uses_the_history():
    def run(seed):
        study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=seed))
        study.optimize(objective, n_trials=12)
        return [t.params for t in study.trials]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_a_trial_running_in_another_worker_is_not_proposed_again():
    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0, sample=False))
    study.optimize(objective, n_trials=7)
    running = [study.ask() for _ in range(2)]
    params = [(t.suggest_float("x", -5, 5), t.suggest_int("n", 1, 8),
               t.suggest_categorical("act", ["relu", "tanh"])) for t in running]
    assert params[0] != params[1], "the second trial repeats the one still running"


def test_workers_with_one_seed_that_race_do_not_draw_the_same_random_values():
    """Two workers (one storage, one seed) each start a trial while another worker's trial has
    not drawn its parameters: both fall back to random values, which must differ."""
    storage = optuna.storages.InMemoryStorage()
    a, b = (optuna.create_study(storage=storage, study_name="s", load_if_exists=True,
                                sampler=MetaHPOSampler("meta", seed=0)) for _ in range(2))
    a.ask()
    racing_in_b = b.ask()
    x_b = racing_in_b.suggest_float("x", -5, 5)
    b.ask()
    racing_in_a = a.ask()
    x_a = racing_in_a.suggest_float("x", -5, 5)
    assert x_a != x_b, "two workers drew the same fallback value"


def test_the_first_trials_start_the_design_like_a_direct_run():
    """Before any trial finishes Optuna shows one parameter at a time: the first trial is the
    middle of the space, as in a direct run of the default policy, and trials started alongside
    it take the next design points instead of repeating it."""
    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    running = [study.ask() for _ in range(3)]
    params = [(t.suggest_float("x", -5, 5), t.suggest_int("n", 1, 9),
               t.suggest_categorical("act", ["relu", "tanh"])) for t in running]
    assert params[0] == (0.0, 5, "relu")
    assert len(set(params)) == 3
    again = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    assert again.ask().suggest_float("x", -5, 5) == 0.0
    rand = optuna.create_study(sampler=MetaHPOSampler("random", seed=0)).ask()
    assert rand.suggest_float("x", -5, 5) != 0.0
    failing = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    failing.optimize(lambda t: float("nan") if t.suggest_float("x", -5, 5) == 0.0 else 1.0,
                     n_trials=2)
    assert failing.trials[0].state == optuna.trial.TrialState.FAIL
    direct = create_optimizer("meta", SearchSpace([Float("x", -5.0, 5.0)]), seed=0)
    direct.tell(direct.ask(), float("nan"))
    assert failing.trials[1].params["x"] == direct.ask().params["x"]  # the design goes on
    race = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    first, second = race.ask(), race.ask()
    second_x = second.suggest_float("x", -5, 5)  # before the first trial has drawn anything
    assert first.suggest_float("x", -5, 5) == 0.0 and second_x != 0.0


def test_a_sampler_kept_between_trials_proposes_what_a_fresh_one_would():
    """The sampler keeps its optimizer in step with the study; a new sampler for every trial
    rebuilds it from the study's trials: both propose the same, also when a trial ran with
    another value than proposed (enqueued), leaves out a parameter, or fails."""
    def conditional(trial):
        x = trial.suggest_float("x", -5, 5)
        n = trial.suggest_int("n", 1, 8)
        if trial.number == 9:
            return float("nan")
        if trial.number != 12:
            trial.suggest_categorical("act", ["relu", "tanh"])
        return (x - 1) ** 2 + n

    def run(fresh):
        study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=5))
        for i in range(20):
            if fresh:
                study.sampler = MetaHPOSampler("meta", seed=5)
            if i == 7:
                study.enqueue_trial({"x": 4.0})
            study.optimize(conditional, n_trials=1)
        # "act" leaves the joint space at trial 12 and is then drawn by Optuna's independent
        # sampler, whose state a fresh sampler does not share; the joint proposals must agree.
        return [(t.params["x"], t.params["n"]) for t in study.trials]

    kept = run(fresh=False)
    assert kept[7][0] == 4.0 and len(set(kept)) == 20
    assert kept == run(fresh=True)


@pytest.mark.filterwarnings("ignore:Fixed parameter x with value 50.0 is out of range")
def test_an_enqueued_trial_outside_the_distribution_is_left_out_with_a_warning():
    """Optuna runs an enqueued value outside its distribution (with a warning of its own);
    the optimizer cannot read it, so the sampler says so and goes on."""
    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    study.enqueue_trial({"x": 50.0})
    with pytest.warns(UserWarning, match=r"trial 0 holds values outside their distributions "
                                         r"\(x=50.0; an enqueued trial, say\)"):
        study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=6)
    assert len(study.trials) == 6 and all(-5 <= t.params["x"] <= 5 for t in study.trials[1:])


def test_one_sampler_reused_for_several_studies_proposes_as_a_new_one_would(monkeypatch):
    import metahpo.integrations.optuna as integration

    # The sampler keys its kept optimizers by the storage's id, which Python reuses once a
    # storage is gone; make every id collide so that only the storage's identity tells them apart.
    monkeypatch.setattr(integration, "id", lambda obj: 0, raising=False)

    def run(sampler):
        study = optuna.create_study(sampler=sampler)
        study.optimize(objective, n_trials=8)
        return [t.params for t in study.trials]

    reused = MetaHPOSampler("meta", seed=0)
    assert [run(reused) for _ in range(3)] == [run(MetaHPOSampler("meta", seed=0)) for _ in range(3)]


def test_threads_of_one_study_share_the_sampler_safely(monkeypatch):
    """Three threads share one sampler and their trials finish out of order: no configuration
    proposed twice; its optimizer is kept, not rebuilt for every trial (a trial that finishes
    after later-numbered ones rewinds it); and afterwards it is in step with the study (it
    proposes what a sampler built afresh from the same trials proposes)."""
    import metahpo.integrations.optuna as integration

    built, original = [], integration.StudyReplica.__init__

    def counted(self, opt, *args, **kwargs):
        built.append(opt.seed)
        original(self, opt, *args, **kwargs)

    monkeypatch.setattr(integration.StudyReplica, "__init__", counted)

    def uneven(trial):
        time.sleep(0.003 * (trial.number * 7 % 5))
        return objective(trial)

    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    study.optimize(uneven, n_trials=24, n_jobs=3)
    # built once with the sampler's seed; besides, only trials of the policy's five-point random
    # design that started beside one without parameters yet get an optimizer of their own
    assert built.count(0) == 1 and len(built) <= 6, built
    params = [tuple(t.params.values()) for t in study.trials]
    assert len(study.trials) == 24 and len(set(params)) == 24
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    copy = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    copy.add_trials(study.trials)
    study.optimize(objective, n_trials=1)
    copy.optimize(objective, n_trials=1)
    assert study.trials[-1].params == copy.trials[-1].params


WORKER = '''
import sys, optuna
from metahpo.integrations.optuna import MetaHPOSampler
optuna.logging.set_verbosity(optuna.logging.WARNING)
def objective(trial):
    x = trial.suggest_float("x", -5, 5)
    n = trial.suggest_int("n", 1, 8)
    return (x - 1) ** 2 + n
study = optuna.create_study(storage=sys.argv[1], study_name="shared", load_if_exists=True,
                            sampler=MetaHPOSampler("meta", seed=int(sys.argv[2])))
study.optimize(objective, n_trials=int(sys.argv[3]))
'''


def test_two_worker_processes_on_one_sqlite_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(storage=url, study_name="shared")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [subprocess.Popen([sys.executable, str(script), url, "0", "10"],
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    trials = optuna.load_study(study_name="shared", storage=url).trials
    assert len(trials) == 20 and sorted(t.number for t in trials) == list(range(20))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({(t.params["x"], t.params["n"]) for t in trials}) == 20


def test_study_resumed_after_its_process_was_killed(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    script = tmp_path / "worker.py"
    script.write_text(WORKER.replace("return (x - 1) ** 2 + n",
                                     "import time; time.sleep(0.05); return (x - 1) ** 2 + n"))
    proc = subprocess.Popen([sys.executable, str(script), url, "0", "1000"], stderr=subprocess.PIPE)
    import time

    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            done = [t for t in optuna.load_study(study_name="shared", storage=url).trials
                    if t.state == optuna.trial.TrialState.COMPLETE]
        except KeyError:
            done = []
        if len(done) >= 5:
            break
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    before = {t.number: t.params for t in optuna.load_study(study_name="shared", storage=url).trials
              if t.state == optuna.trial.TrialState.COMPLETE}
    res = subprocess.run([sys.executable, str(script), url, "0", "5"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    after = optuna.load_study(study_name="shared", storage=url).trials
    complete = {t.number: t.params for t in after if t.state == optuna.trial.TrialState.COMPLETE}
    assert all(complete[n] == p for n, p in before.items())
    assert len(complete) == len(before) + 5


def test_an_optimizer_with_a_state_goes_on_in_a_study_resumed_by_a_new_sampler(tmp_path):
    """A new sampler (another process) reads what the wrapped optimizer kept with each trial:
    QMC goes on along its sequence (it started it again with every new sampler)."""
    from scipy.stats import qmc

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {"x": optuna.distributions.FloatDistribution(0.0, 1.0),
             "y": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for _ in range(3):
        study = optuna.create_study(study_name="q", storage=url, load_if_exists=True,
                                    sampler=MetaHPOSampler("optuna.samplers:QMCSampler", seed=0,
                                                           search_space=space))
        study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_float("y", 0, 1),
                       n_trials=3)
    points = [[t.params["x"], t.params["y"]] for t in study.trials]
    assert points[1:] == qmc.Sobol(2, scramble=False).random(8).tolist()


def test_a_misspelt_option_is_refused_when_the_sampler_is_made():
    from metahpo import MetaHPOError

    with pytest.raises(MetaHPOError, match="'meta' has no option 'sreen'; its options: policy, screen"):
        MetaHPOSampler("meta", sreen=8)
    with pytest.raises(MetaHPOError, match="unknown optimizer 'metta'"):
        MetaHPOSampler("metta")


def test_a_declared_search_space_starts_a_policys_design_with_the_first_trial(monkeypatch):
    """With ``search_space`` the lcbench policy's learned design starts the study, as in a
    direct run, in whatever order the space lists the parameters (and the sampler keeps its
    optimizer between trials, though the policy orders the space its own way); without it
    Optuna shows the first trial one parameter at a time, which that policy cannot serve (a
    random first trial)."""
    import metahpo.integrations.optuna as integration
    from metahpo.tasks.yahpo import YahpoScenario

    task = YahpoScenario("lcbench").task("126025")
    direct = create_optimizer("meta", task.space, direction=task.direction, policy="lcbench",
                              seed=0)
    design = []
    for _ in range(5):
        trial = direct.ask()
        direct.tell(trial, task.evaluate(trial.params))
        design.append(trial.params)

    def first_trials(**declared):
        study = optuna.create_study(direction=task.direction, sampler=MetaHPOSampler(
            "meta", seed=0, policy="lcbench", **declared))
        params = []
        for _ in range(5):
            trial = study.ask(space_to_optuna(task.space))
            study.tell(trial, task.evaluate(trial.params))
            params.append(trial.params)
        return params

    assert first_trials(search_space=task.space) == design
    by_name = dict(sorted(space_to_optuna(task.space).items(), reverse=True))
    builds = []
    monkeypatch.setattr(integration, "create_optimizer",
                        lambda *args, **kwargs: builds.append(1) or create_optimizer(*args, **kwargs))
    assert first_trials(search_space=by_name) == design
    assert len(builds) == 2  # the sampler's check of the space, then one kept optimizer
    with pytest.warns(UserWarning, match="cannot propose a study's first trial one parameter"):
        assert first_trials()[0] != design[0]


def test_a_declared_search_space_names_what_does_not_fit_it():
    from optuna.distributions import FloatDistribution, IntDistribution

    from metahpo import MetaHPOError

    declared = {"x": FloatDistribution(-5, 5), "n": IntDistribution(1, 8)}
    with pytest.raises(MetaHPOError, match=r"search_space\['x'\] must be an Optuna distribution"):
        MetaHPOSampler("meta", search_space={"x": (-5, 5)})
    with pytest.raises(MetaHPOError, match="search_space must be a non-empty dict"):
        MetaHPOSampler("meta", search_space={})
    with pytest.raises(MetaHPOError, match="meta-trained for one search space"):
        MetaHPOSampler("meta", policy="lcbench", search_space=declared)

    def both(trial):
        return (trial.suggest_float("x", -5, 5) - 1) ** 2 + trial.suggest_int("n", 1, 8)

    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0, search_space=declared))
    with pytest.raises(MetaHPOError, match="suggests parameter 'x' as FloatDistribution.*declares"):
        study.optimize(lambda t: t.suggest_float("x", 10, 20) + t.suggest_int("n", 1, 8),
                       n_trials=1)
    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0, search_space=declared))
    study.optimize(lambda t: t.suggest_float("x", -5, 5), n_trials=1)
    with pytest.warns(UserWarning, match=r"trial 0 lacks \['n'\] of the sampler's search_space"):
        study.optimize(both, n_trials=1)
    study.optimize(both, n_trials=6)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert len({(t.params["x"], t.params.get("n")) for t in study.trials}) == 8


def test_under_hyperband_the_sampler_reads_the_whole_study_not_one_bracket():
    """Optuna hands samplers one bracket's trials under its HyperbandPruner; read so, each
    bracket started the policy's design again and 40 trials held 32 configurations."""
    def curve(trial):
        lr, width = trial.suggest_float("lr", 1e-4, 1e-1, log=True), trial.suggest_int("w", 8, 256)
        for epoch in range(9):
            accuracy = (1 - abs(math.log10(lr) + 2.5) / 3) * (1 - math.exp(-(epoch + 1) / 3))
            trial.report(accuracy * min(1.0, width / 64), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy * min(1.0, width / 64)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9)
    study = optuna.create_study(direction="maximize", sampler=MetaHPOSampler(seed=0),
                                pruner=pruner)
    study.optimize(curve, n_trials=40)
    assert len({tuple(t.params.values()) for t in study.trials}) == 40
    assert any(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)


def test_pruned_trials_reach_the_optimizer_with_their_last_report():
    """A study pruned by Optuna's median pruner: the sampler tells the optimizer each pruned
    trial with the value it reported last, as ``metahpo.tune`` does."""
    from optuna.distributions import FloatDistribution, IntDistribution

    from metahpo.distributions import space_from_optuna

    declared = {"x": FloatDistribution(-5, 5), "n": IntDistribution(1, 8)}

    def curve(trial):
        x, n = trial.suggest_float("x", -5, 5), trial.suggest_int("n", 1, 8)
        for epoch in range(6):
            trial.report((x - 1) ** 2 + n + 5.0 / (epoch + 1), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return (x - 1) ** 2 + n

    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0, search_space=declared),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3))
    study.optimize(curve, n_trials=14)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(pruned) >= 3
    direct = create_optimizer("meta", space_from_optuna(declared), seed=0)
    for t in study.trials:
        if t.state == optuna.trial.TrialState.PRUNED:
            step = max(t.intermediate_values)
            direct.add_trial(t.params, error="pruned",
                             last_report=(step, t.intermediate_values[step]))
        else:
            direct.add_trial(t.params, t.value)
    direct.restart_draws(len(study.trials))
    assert study.ask(declared).params == direct.ask().params


def _sampled_by_meta(objective, n_trials):
    """A study of ``objective`` under the ``meta`` sampler (seed 0), and for each trial whether
    the sampler proposed all its parameters jointly (none drawn independently)."""
    jointly = []

    def recorded(trial):
        loss = objective(trial)
        jointly.append(set(trial.params) <= set(trial.relative_params))
        return loss

    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    study.optimize(recorded, n_trials=n_trials)
    return study, jointly


def test_define_by_run_conditions_are_inferred_and_sampled_jointly():
    """Optuna's define-by-run patterns, a parameter per layer and one per optimizer choice: the
    sampler reads where each appears from the completed trials and proposes it with the others
    (it was left to independent random sampling), and a study sampled this way finds the
    optimum of the layers a random search misses."""
    from metahpo import Condition
    from metahpo.integrations.optuna_conditions import define_by_run_space

    def objective(trial):
        n = trial.suggest_int("n_layers", 1, 3)
        loss = 0.1 * abs(n - 2)
        for i in range(n):
            loss += (trial.suggest_float(f"width_{i}", 0.0, 1.0) - 0.3) ** 2
        if trial.suggest_categorical("optimizer", ["adam", "sgd"]) == "sgd":
            loss += (trial.suggest_float("momentum", 0.0, 0.99) - 0.9) ** 2
        else:
            loss += 0.05
        return loss

    study, jointly = _sampled_by_meta(objective, 40)
    space, conditions = define_by_run_space(study.trials)
    assert list(space) == ["n_layers", "optimizer", "width_0", "momentum", "width_1", "width_2"]
    assert conditions == {"momentum": Condition("optimizer", ["sgd"]),
                          "width_1": Condition("n_layers", [2, 3]),
                          "width_2": Condition("n_layers", [3])}
    # the first 2 trials show n_layers 1 and 2 only: width_1 is read as a threshold, and so
    # proposed for 3 layers too before a trial has shown it there
    assert sorted(t.params["n_layers"] for t in study.trials[:2]) == [1, 2]
    assert define_by_run_space(study.trials[:2])[1] == {"width_1": Condition("n_layers", [2, 3])}
    assert all(jointly[15:])
    best = study.best_params
    assert best["n_layers"] == 2 and abs(best["width_1"] - 0.3) < 0.1

    random = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    random.optimize(objective, n_trials=40)
    assert study.best_value < random.best_value


def test_a_parameter_on_two_parents_is_inferred_and_sampled_jointly():
    """``if model == "mlp" and n_layers > 2``: neither parameter alone says where the third
    layer's width appears, the two together do."""
    from metahpo import Condition
    from metahpo.integrations.optuna_conditions import define_by_run_space

    def objective(trial):
        model = trial.suggest_categorical("model", ["mlp", "cnn"])
        n = trial.suggest_int("n_layers", 1, 4)
        loss = 0.2 * (model == "cnn") + 0.1 * abs(n - 3)
        if model == "mlp" and n > 2:
            loss += (trial.suggest_float("units_3", 0.0, 1.0) - 0.3) ** 2
        else:
            loss += 0.1
        return loss

    study, jointly = _sampled_by_meta(objective, 25)
    assert define_by_run_space(study.trials)[1] == {
        "units_3": Condition({"model": ["mlp"], "n_layers": [3, 4]})}
    assert all(jointly[12:])
    assert study.best_params["model"] == "mlp" and study.best_params["n_layers"] == 3


def test_the_space_of_a_study_optuna_made_is_read_from_its_trials(tmp_path):
    """``metahpo studies space`` on a define-by-run study: the parameters its trials show, with
    the conditions the sampler reads, and what it cannot place named on standard error."""
    from command_line import run_here

    from metahpo import Categorical, Condition, Float, SearchSpace

    made = optuna.create_study(study_name="by-optuna",
                               storage=f"sqlite:///{tmp_path / 'metahpo.db'}")
    refused = run_here(tmp_path, "studies", "space", "by-optuna")
    assert refused.returncode == 2 and "holds no search space and no completed trial" in (
        refused.stderr)

    def define_by_run(trial):
        if trial.suggest_categorical("optimizer", ["adam", "sgd"]) == "sgd":
            trial.suggest_float("momentum", 0.0, 0.99)
        if trial.number % 2:
            trial.suggest_int("seed", 0, 9)
        return trial.suggest_float("lr", 1e-4, 1e-1, log=True)

    for optimizer in ["adam", "sgd", "sgd", "adam"]:
        made.enqueue_trial({"optimizer": optimizer})
    made.optimize(define_by_run, n_trials=4)
    read = run_here(tmp_path, "studies", "space", "by-optuna")
    assert read.returncode == 0, read.stderr
    assert SearchSpace.from_yaml(read.stdout) == SearchSpace(
        [Float("lr", 1e-4, 1e-1, log=True), Categorical("optimizer", ["adam", "sgd"]),
         Float("momentum", 0.0, 0.99)], conditions={"momentum": Condition("optimizer", "sgd")})
    assert "made by Optuna: its space as its 4 completed trials show it; left out" in read.stderr
    assert read.stderr.rstrip().endswith(": seed")


def test_a_parameter_that_no_other_explains_is_sampled_independently():
    """A parameter suggested on a condition the parameters do not show (here the trial's
    number; in the first trials it appears and is absent with either activation) has no parent:
    it stays out of the joint space, and the others are proposed jointly."""
    from metahpo.integrations.optuna_conditions import define_by_run_space

    relative = []

    def flip(trial):
        x = trial.suggest_float("x", -5, 5)
        act = trial.suggest_categorical("act", ["relu", "tanh"])
        if trial.number % 3 == 0:
            x += trial.suggest_float("shift", 0.0, 1.0)
        relative.append(set(trial.relative_params))
        return (x - 1) ** 2 + (act == "tanh")

    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=3))
    for x, act in [(0.0, "relu"), (1.0, "relu"), (2.0, "tanh"), (-1.0, "tanh")]:
        study.enqueue_trial({"x": x, "act": act})
    study.optimize(flip, n_trials=12)
    space, conditions = define_by_run_space(study.trials)
    assert list(space) == ["act", "x"] and conditions == {}
    assert all(params == {"act", "x"} for params in relative[4:])


def test_what_define_by_run_inference_reads_as_a_condition_and_what_not():
    """Read from completed trials made by hand: a categorical parent's seen choices (True and 1
    told apart); an integer parent's threshold, above or below, extended to the values not seen
    yet; two parents where neither alone explains a parameter (``gapped``: depth 1 or 3 with
    flag True or "x", never depth 2, the one trial with flag 1 at such a depth). Values that
    neither one parent nor two explain (``every_other``), a parameter whose distribution
    changes and one that only unfinished trials hold are not read as conditions."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.trial import TrialState, create_trial

    from metahpo import Condition
    from metahpo.integrations.optuna_conditions import define_by_run_space

    flag = CategoricalDistribution([True, 1, "x"])
    depth = IntDistribution(1, 6)
    unit = FloatDistribution(0.0, 1.0)

    def trial(state=TrialState.COMPLETE, **params):
        dists = {"flag": flag, "depth": depth}
        dists.update({n: unit for n in params if n not in dists})
        if "odd" in params:
            dists["odd"] = FloatDistribution(0.0, params.pop("odd_high", 1.0))
        return create_trial(params=params, distributions={n: dists[n] for n in params},
                            value=None if state != TrialState.COMPLETE else 0.0, state=state)

    trials = [
        trial(flag=True, depth=1, shallow=0.5, odd=0.1, tagged=0.2, gapped=0.6),
        trial(flag=1, depth=2, shallow=0.5, deep=0.3, odd=0.1, odd_high=2.0),
        trial(flag="x", depth=3, deep=0.3, every_other=0.4, gapped=0.6),
        trial(flag=True, depth=4, deep=0.3, tagged=0.2),
        trial(flag=1, depth=2, shallow=0.5, deep=0.3, every_other=0.4),
        trial(TrialState.RUNNING, flag=1, depth=5, deep=0.3, running_only=0.1),
    ]
    space, conditions = define_by_run_space(trials)
    assert list(space) == ["depth", "flag", "deep", "gapped", "shallow", "tagged"]
    assert conditions == {"deep": Condition("depth", [2, 3, 4, 5, 6]),
                          "gapped": Condition({"depth": [1, 2, 3], "flag": [True, "x"]}),
                          "shallow": Condition("depth", [1, 2]),
                          "tagged": Condition("flag", [True])}
    assert define_by_run_space([t for t in trials if t.state != TrialState.COMPLETE]) == ({}, {})


def test_the_inference_reads_the_trials_once_per_suggestion(monkeypatch):
    """Optuna infers the relative space and samples it in two calls; the sampler takes the
    conditions from the first instead of reading the study's trials again."""
    import metahpo.integrations.optuna as integration

    reads = []
    infer = integration.define_by_run_space
    monkeypatch.setattr(integration, "define_by_run_space",
                        lambda trials: reads.append(1) or infer(trials))

    def objective(trial):
        if trial.suggest_categorical("optimizer", ["adam", "sgd"]) == "sgd":
            return trial.suggest_float("momentum", 0.0, 0.99)
        return trial.suggest_float("lr", 0.0, 1.0)

    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    study.optimize(objective, n_trials=12)
    assert len(reads) == 12


def two_objectives(trial):
    """ZDT1 (:func:`pareto.zdt1`) as an Optuna objective."""
    return zdt1(*(trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(3)))


def test_several_objectives_find_the_front_along_its_length():
    def run(sampler):
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        study.optimize(two_objectives, n_trials=30)
        return study

    for seed in range(3):
        meta = run(MetaHPOSampler("meta", seed=seed))
        random = run(optuna.samplers.RandomSampler(seed=seed))
        assert (hypervolume([t.values for t in meta.trials])
                > hypervolume([t.values for t in random.trials]) + 0.5), seed  # 9.4 vs 7.2-8.0
        front = meta.best_trials
        assert all(t.params["x1"] + t.params["x2"] < 0.1 for t in front), "off the front"
        assert max(t.params["x0"] for t in front) - min(t.params["x0"] for t in front) > 0.5


def test_several_objectives_follow_each_direction():
    """Maximizing the negated objective is the same study, trial by trial."""
    def negated_first(trial):
        f1, f2 = two_objectives(trial)
        return -f1, f2

    minimized = optuna.create_study(directions=["minimize", "minimize"],
                                    sampler=MetaHPOSampler("meta", seed=0))
    minimized.optimize(two_objectives, n_trials=15)
    maximized = optuna.create_study(directions=["maximize", "minimize"],
                                    sampler=MetaHPOSampler("meta", seed=0))
    maximized.optimize(negated_first, n_trials=15)
    assert [t.params for t in maximized.trials] == [t.params for t in minimized.trials]
    assert minimized.trials[0].params == {"x0": 0.5, "x1": 0.5, "x2": 0.5}, "the design's start"


def test_several_objectives_with_failed_and_infinite_trials():
    def sometimes_broken(trial):
        f1, f2 = two_objectives(trial)
        if trial.params["x1"] > 0.9:
            raise ValueError("diverged")
        return (float("inf"), f2) if trial.params["x2"] > 0.9 else (f1, f2)

    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=MetaHPOSampler("meta", seed=1))
    study.optimize(sometimes_broken, n_trials=25, catch=(ValueError,))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(study.trials) == 25 and len(complete) > 15
    assert hypervolume([t.values for t in complete]) > 8.0


def bounded(trial):
    """Best at x = 1, but only x <= 0.5 is allowed: the feasible optimum (0.25) lies on the
    boundary."""
    x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
    return (x - 1.0) ** 2 + (y - 0.5) ** 2


def test_constraints_steer_the_search_to_the_feasible_optimum():
    def constrained(trial):
        value = bounded(trial)
        trial.set_constraint("x_max", trial.params["x"] - 0.5)
        return value

    def run(objective, seed):
        study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=seed))
        study.optimize(objective, n_trials=30)
        return study

    late = lambda s: sum(t.params["x"] > 0.5 for t in s.trials[10:])  # noqa: E731
    for seed in range(3):
        study, blind = run(constrained, seed), run(bounded, seed)
        assert study.best_trial.params["x"] <= 0.5 and study.best_value < 0.26, seed  # 0.25
        assert late(study) <= 5 and late(blind) >= 15, seed  # 1-3 of 20 against 20


def test_constraints_stored_as_a_list_by_another_sampler_count_too():
    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    for x in (0.9, 0.95, 0.3):
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        study._storage.set_trial_system_attr(trial._trial_id, "constraints", (x - 0.5,))
        study.tell(trial, (x - 1.0) ** 2)
    from metahpo.integrations.optuna_replica import violated_constraints

    assert [violated_constraints(t) for t in study.trials] == ["0 = 0.4 > 0", "0 = 0.45 > 0", ""]


@pytest.mark.filterwarnings("ignore:MetaHPOSampler")
def test_choices_that_are_not_plain_values_are_refused_with_what_to_do():
    """Optuna runs ``suggest_categorical`` among tuples in memory (with a warning); the
    sampler cannot search them and says how to write such a choice."""
    from metahpo import MetaHPOError

    def objective(trial):
        return len(trial.suggest_categorical("widths", [(64, 64), (128,)]))

    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0))
    with pytest.warns(UserWarning, match="Choices for a categorical distribution"), \
            pytest.raises(MetaHPOError, match=r"parameter 'widths': choices must be None, bool, "
                                              r"int, float or str, got \(64, 64\) \(tuple\).*"
                                              "suggest a string per choice"):
        study.optimize(objective, n_trials=2)
