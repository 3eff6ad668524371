"""Forbidden combinations: declared in a space (Python, space files, ConfigSpace), never
proposed by any optimizer, refused where a user gives them."""

import json
import warnings

import numpy as np
import pytest

import metahpo
from metahpo import Categorical, Condition, Float, Int, MetaHPOError, SearchSpace, create_optimizer
from metahpo.forbidden import MAX_PROPOSALS
from metahpo.optimizers.base import Optimizer

from command_line import run, run_here

FORBIDDEN = [{"model": "large", "batch_size": [128, 256]}, {"batch_size": 32}]


def _space(**kwargs) -> SearchSpace:
    """16 combinations of model, batch size and optimizer, 8 of them forbidden, plus a learning
    rate."""
    return SearchSpace(
        [Categorical("model", ["small", "large"]), Categorical("batch_size", [32, 64, 128, 256]),
         Categorical("optimizer", ["adam", "sgd"]), Float("lr", 1e-4, 1e-1, log=True)],
        forbidden=FORBIDDEN, **kwargs)


def _loss(params):
    """Best at the forbidden corner (large model, batch 256), so that a search is drawn to it."""
    return (-(params["model"] == "large") - params["batch_size"] / 256
            + abs(params["lr"] - 0.01))


def test_a_space_says_which_configurations_its_clauses_forbid():
    space = _space()
    assert space.forbidden == [{"model": ["large"], "batch_size": [128, 256]},
                               {"batch_size": [32]}]
    allowed = {"model": "small", "batch_size": 128, "optimizer": "sgd", "lr": 0.01}
    assert space.forbids(allowed) is None
    assert space.forbids({**allowed, "model": "large"}) == (
        "{'model': ['large'], 'batch_size': [128, 256]}")
    assert space.forbids({**allowed, "batch_size": 32}) == "{'batch_size': [32]}"
    points = space.snap(space.sample_unit(np.random.default_rng(0), 500))
    mask = space.forbidden_mask(points)
    assert mask.tolist() == [space.forbids(space.decode(u)) is not None for u in points]
    assert 0.2 < mask.mean() < 0.6
    discrete = space.without("lr")
    assert len(discrete.all_configurations(100)) == 8, "16 combinations, 8 forbidden"
    assert discrete.forbidden == space.forbidden
    assert space.without("model").forbidden == [{"batch_size": [32]}]
    assert space != SearchSpace(space.parameters), "the clauses are part of the space"


def test_a_clause_applies_only_where_every_parameter_it_names_is_active():
    space = SearchSpace(
        [Categorical("optimizer", ["adam", "sgd"]), Categorical("momentum", [0.0, 0.9]),
         Int("layers", 1, 3)],
        conditions={"momentum": Condition("optimizer", "sgd")},
        forbidden=[{"momentum": 0.9, "layers": 3}])
    assert space.forbids({"optimizer": "adam", "layers": 3}) is None
    assert space.forbids({"optimizer": "sgd", "momentum": 0.9, "layers": 3}) is not None
    assert len(space.all_configurations(100)) == 3 + 6 - 1


@pytest.mark.parametrize("forbidden, message", [
    ({"model": "large"}, "forbidden must be a list of clauses"),
    ([{}], "a forbidden clause must map parameter names to values"),
    ([{"depth": 3}], r"forbidden clause \{'depth': \[3\]\}: no parameter named 'depth'"),
    ([{"lr": 0.01}], "'lr' is continuous, and one of its values forbids nothing measurable"),
    ([{"batch_size": [64, 512]}], r"\[512\] are not values of 'batch_size'"),
    ([{"batch_size": []}], "no value of 'batch_size' listed"),
])
def test_bad_clauses_name_the_problem(forbidden, message):
    with pytest.raises(MetaHPOError, match=message):
        SearchSpace([Categorical("model", ["small", "large"]),
                     Categorical("batch_size", [32, 64]), Float("lr", 1e-4, 1e-1, log=True)],
                    forbidden=forbidden)


@pytest.mark.parametrize("name", ["random", "grid", "meta", "tpe", "cmaes", "evolution", "rl"])
def test_no_optimizer_proposes_a_forbidden_configuration(name):
    space = _space()
    opt = create_optimizer(name, space, seed=0)
    pending = [opt.ask() for _ in range(3)]
    for trial in pending:
        opt.tell(trial, _loss(trial.params))
    for _ in range(15):
        trial = opt.ask()
        assert space.forbids(trial.params) is None, trial.params
        opt.tell(trial, _loss(trial.params))
    tried = {(r.params["model"], r.params["batch_size"]) for r in opt.history}
    assert all(space.forbids(r.params) is None for r in opt.history)
    assert len(tried) >= 2


def _readme_space() -> SearchSpace:
    """The README's example: the large model cannot run its larger batches, and a warm-up
    must end before the training does."""
    return SearchSpace([Categorical("model", ["small", "large"]),
                        Categorical("batch_size", [64, 128, 256]),
                        Float("lr", 1e-4, 1e-1, log=True), Int("epochs", 5, 50),
                        Int("warmup_epochs", 0, 10)],
                       forbidden=[{"model": "large", "batch_size": [128, 256]},
                                  "warmup_epochs >= epochs"])


def _readme_error(params) -> float:
    """Lower for the large model, which is best at the forbidden batch of 128 and next best at
    the allowed 64."""
    batch = {"small": {64: 0.02, 128: 0.01, 256: 0.0}, "large": {64: 0.02, 128: 0.0, 256: 0.01}}
    return ({"small": 0.3, "large": 0.12}[params["model"]]
            + batch[params["model"]][params["batch_size"]] + abs(np.log10(params["lr"]) + 2.5))


def test_the_meta_optimizers_first_trials_cover_what_the_clauses_leave():
    """The default policy's random design is drawn among allowed points: a design point that
    is forbidden is skipped, and the large model's only allowed batch size was then left untried
    in some searches' first trials (seeds 0 and 5 of these)."""
    space = _readme_space()
    for seed in range(8):
        opt = create_optimizer("meta", space, seed=seed)
        first = [opt.ask() for _ in range(5)]
        assert [t.params["model"] for t in first].count("large") == 2, (seed, first)


def test_tpe_keeps_the_values_of_forbidden_proposals_that_allowed_ones_share():
    """TPE's forbidden proposals fail in its private study: told as its worst trials, they
    taught its model that the large model is bad, and one of these searches (seed 5) ended
    on the small model."""
    space = _readme_space()
    for seed in range(6):
        opt = create_optimizer("tpe", space, seed=seed)
        for _ in range(30):
            trial = opt.ask()
            opt.tell(trial, _readme_error(trial.params))
        assert opt.best.params["model"] == "large", seed


class _Stubborn(Optimizer):
    """Proposes the same forbidden configuration, then the one allowed one, for ever."""

    name = ""

    def __init__(self, space, **kwargs):
        super().__init__(space, **kwargs)
        self.proposals = 0
        self.discarded = 0

    def _propose(self):
        self.proposals += 1
        return {"model": "large", "batch_size": 256, "optimizer": "adam", "lr": 0.01}

    def _discard_proposal(self):
        self.discarded += 1

    def _proposal_attrs(self):
        return {"proposal": self.proposals}


def test_after_forbidden_proposals_in_a_row_an_allowed_configuration_is_drawn():
    opt = _Stubborn(_space(), seed=0)
    trial = opt.ask()
    assert (opt.proposals, opt.discarded) == (MAX_PROPOSALS, MAX_PROPOSALS)
    assert _space().forbids(trial.params) is None
    assert trial.optimizer_attrs == {}, "the drawn configuration is not the optimizer's"
    everything = SearchSpace([Categorical("batch_size", [32])] + list(_space().parameters)[:1],
                             forbidden=[{"batch_size": 32}])
    with pytest.raises(MetaHPOError, match="leave \\(almost\\) nothing of the space"):
        create_optimizer("random", everything, seed=0).ask()


def test_a_clause_on_a_fixed_parameter_steers_the_free_ones():
    """``model`` has one choice here, so the free parameters' optimizer gets the clause's
    batch sizes as forbidden outright."""
    space = SearchSpace(
        [Categorical("model", ["large"]), Categorical("batch_size", [32, 64, 128, 256]),
         Float("lr", 1e-4, 1e-1, log=True)],
        forbidden=[{"model": "large", "batch_size": [128, 256]}])
    study = metahpo.tune(_loss, space, n_trials=12, seed=0, show_progress=False)
    assert {t.params["batch_size"] for t in study.trials} <= {32, 64}
    from metahpo.optimizers.fixed_parameters import split_fixed

    free, _ = split_fixed(space)
    assert free is not None and free.forbidden == [{"batch_size": [128, 256]}]
    with_relation = SearchSpace([Int("epochs", 5, 5), Int("warmup", 0, 10), Int("n", 1, 3)],
                                forbidden=["warmup >= epochs", "n > warmup"])
    free, _ = split_fixed(with_relation)
    assert free is not None and free.forbidden == ["n > warmup"], "a fixed side: left to ask"


def test_tune_keeps_to_allowed_configurations_and_refuses_forbidden_points(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = metahpo.tune(_loss, _space(), n_trials=12, storage=url, study_name="f", seed=0,
                         show_progress=False)
    assert all(_space().forbids(t.params) is None for t in study.trials)
    assert metahpo.load_study("f", url).space == _space()
    with pytest.raises(MetaHPOError, match="another search space.*forbidden combinations "
                                           "changed"):
        metahpo.tune(_loss, SearchSpace(_space().parameters), n_trials=13, storage=url,
                     study_name="f", seed=0, show_progress=False)
    bad = {"model": "large", "batch_size": 256, "optimizer": "adam", "lr": 0.01}
    with pytest.raises(MetaHPOError, match=r"points_to_evaluate\[0\]: the configuration is "
                                           r"forbidden by \{'model'"):
        metahpo.tune(_loss, _space(), n_trials=1, points_to_evaluate=[bad],
                     show_progress=False)
    with pytest.raises(MetaHPOError, match="the enqueued configuration .* is forbidden by "
                                           r"\{'batch_size': \[32\]\}"):
        study.enqueue_trial({"batch_size": 32})


def test_space_files_and_configspace_documents_hold_clauses(tmp_path):
    (tmp_path / "space.yaml").write_text(_space().to_yaml())
    assert SearchSpace.from_file(tmp_path / "space.yaml") == _space()
    (tmp_path / "space.json").write_text(_space().to_json())
    assert SearchSpace.from_file(tmp_path / "space.json") == _space()
    named = SearchSpace.from_dict({"forbidden": {"type": "int", "low": 1, "high": 3}})
    assert named.names == ["forbidden"], "a parameter may still be named so"
    with pytest.raises(MetaHPOError, match="cannot have a parameter named 'forbidden'"):
        SearchSpace([Int("forbidden", 1, 3)], forbidden=[{"forbidden": 1}])
    for slip in ({"forbiden": [{"model": "large"}]}, {"forbidden": {"model": "large"}}):
        with pytest.raises(MetaHPOError, match="forbidden clauses go in a list under the key "
                                               "'forbidden'"):
            SearchSpace.from_dict({**_space().to_dict(), **slip})

    document = {
        "hyperparameters": [
            {"name": "model", "type": "categorical", "choices": ["small", "large"]},
            {"name": "batch_size", "type": "ordinal", "sequence": [32, 64, 128, 256]},
            {"name": "optimizer", "type": "categorical", "choices": ["adam", "sgd"]},
            {"name": "lr", "type": "uniform_float", "lower": 1e-4, "upper": 0.1, "log": True},
        ],
        "forbiddens": [
            {"type": "AND", "clauses": [
                {"name": "model", "type": "EQUALS", "value": "large"},
                {"name": "batch_size", "type": "IN", "values": [128, 256]}]},
            {"name": "batch_size", "type": "EQUALS", "value": 32},
        ],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SearchSpace.from_configspace(document) == _space()
    document["forbiddens"].append({"type": "AND", "clauses": [
        {"name": "model", "type": "EQUALS", "value": "large"},
        {"left": "lr", "right": "lr", "type": "RELATION_GT"}]})
    with pytest.warns(UserWarning, match="1 forbidden conjunction.*may be proposed"):
        assert SearchSpace.from_configspace(document) == _space()
    document["forbiddens"][-1] = {"left": "model", "right": "optimizer", "type": "RELATION_EQ"}
    with pytest.raises(MetaHPOError, match="'model' is categorical; a relation compares numbers"):
        SearchSpace.from_configspace(document)


def test_a_relation_forbids_where_two_numbers_compare_so():
    """The warm-up must end before the training does, and the floor of a learning-rate
    schedule lie below its peak: both continuous or integer, so no list of values can say it."""
    space = SearchSpace(
        [Int("epochs", 1, 20), Int("warmup_epochs", 0, 10),
         Categorical("schedule", ["cosine", "constant"]), Float("lr_min", 1e-6, 1e-1, log=True),
         Float("lr_max", 1e-5, 1.0, log=True)],
        conditions={"lr_min": Condition("schedule", "cosine")},
        forbidden=["warmup_epochs >= epochs", "lr_min >= lr_max"])
    assert space.forbidden == ["warmup_epochs >= epochs", "lr_min >= lr_max"]
    base = {"epochs": 10, "warmup_epochs": 2, "lr_min": 1e-4, "lr_max": 1e-2, "schedule": "cosine"}
    assert space.forbids(base) is None
    assert space.forbids({**base, "warmup_epochs": 10}) == "'warmup_epochs >= epochs'"
    assert space.forbids({**base, "lr_min": 0.05}) == "'lr_min >= lr_max'"
    constant = {k: v for k, v in base.items() if k != "lr_min"} | {"schedule": "constant"}
    assert space.forbids({**constant, "lr_max": 1e-5}) is None, "lr_min inactive there"
    points = space.snap(np.random.default_rng(1).random((400, space.dim)))
    mask = space.forbidden_mask(points)
    assert mask.tolist() == [space.forbids(space.decode(u)) is not None for u in points]
    assert 0.2 < mask.mean() < 0.8
    for name in ("random", "meta", "tpe"):
        opt = create_optimizer(name, space, seed=0)
        for _ in range(12):
            trial = opt.ask()
            assert space.forbids(trial.params) is None, (name, trial.params)
            opt.tell(trial, trial.params["warmup_epochs"] - trial.params["epochs"])
    assert SearchSpace.from_yaml(space.to_yaml()) == space
    assert space.without("epochs").forbidden == ["lr_min >= lr_max"]
    fixed = SearchSpace([Int("epochs", 5, 5), Int("warmup_epochs", 0, 10)],
                        forbidden=["warmup_epochs >= epochs"])
    study = metahpo.tune(lambda p: -p["warmup_epochs"], fixed, n_trials=8, seed=0,
                         show_progress=False)
    assert max(t.params["warmup_epochs"] for t in study.trials) <= 4
    document = {"hyperparameters": [
        {"name": "epochs", "type": "uniform_int", "lower": 1, "upper": 20},
        {"name": "warmup_epochs", "type": "uniform_int", "lower": 0, "upper": 10}],
        "forbiddens": [
            {"left": "epochs", "right": "warmup_epochs", "type": "RELATION_LT"},
            {"left": "warmup_epochs", "right": "epochs", "type": "RELATION", "lambda": "EQ"}]}
    assert SearchSpace.from_configspace(document).forbidden == [
        "epochs < warmup_epochs", "warmup_epochs == epochs"]
    for bad, message in [("warmup_epochs => epochs", "must read 'NAME OP NAME'"),
                         ("schedule == epochs", "'schedule' is categorical"),
                         ("epochs < epochs", "compares a parameter with itself"),
                         ("epochs < steps", "no parameter named 'steps'")]:
        with pytest.raises(MetaHPOError, match=message):
            SearchSpace(space.parameters, forbidden=[bad])


def test_the_command_line_tunes_a_space_file_with_clauses(tmp_path):
    (tmp_path / "space.yaml").write_text(
        "model: {type: categorical, choices: [small, large]}\n"
        "batch_size: {type: categorical, choices: [32, 64, 128, 256]}\n"
        "forbidden:\n"
        "  - {model: large, batch_size: [128, 256]}\n")
    done = run(tmp_path, "tune", "--command", "python -c print({batch_size})", "--space",
               "space.yaml", "--trials", "6", "--direction", "maximize", "--study", "s",
               "--seed", "0", "--optimizer", "grid")
    assert done.returncode == 0, done.stderr
    trials = metahpo.load_study("s", f"sqlite:///{tmp_path / 'metahpo.db'}").trials
    tried = {(t.params["model"], t.params["batch_size"]) for t in trials}
    assert len(tried) == 6 and not tried & {("large", 128), ("large", 256)}, (
        "8 combinations, 2 forbidden: the grid's 6")
    printed = run_here(tmp_path, "studies", "space", "s")
    assert printed.returncode == 0, printed.stderr
    assert SearchSpace.from_yaml(printed.stdout) == SearchSpace.from_file(tmp_path / "space.yaml")
    refused = run_here(tmp_path, "enqueue", "--study", "s", "--params", json.dumps(
        {"model": "large", "batch_size": 256}))
    assert refused.returncode == 2
    assert "is forbidden by {'model': ['large'], 'batch_size': [128, 256]}" in refused.stderr


def test_warm_start_offers_no_forbidden_configuration():
    """The past study, without the clauses, found its best at the corner they forbid."""
    past = metahpo.tune(_loss, SearchSpace(_space().parameters), optimizer="random",
                        n_trials=25, seed=0, show_progress=False)
    assert _space().forbids(past.best_params) is not None
    points = metahpo.warm_start_points([past], _space(), n=5, candidates=200)
    assert len(points) == 5
    assert all(_space().forbids(p) is None for p in points), points
    assert metahpo.tune(_loss, _space(), n_trials=5, points_to_evaluate=points,
                        show_progress=False).best_value < 0
