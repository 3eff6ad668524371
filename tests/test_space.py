"""Search spaces: validation, unit-cube encoding, and JSON/YAML/ConfigSpace round trips."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from metahpo import Categorical, Float, Int, MetaHPOError, SearchSpace
from metahpo.distributions import to_optuna
from metahpo.testing import mixed_space

LCBENCH_CONFIGSPACE = Path(__file__).resolve().parents[2] / "shared/data/yahpo/lcbench/config_space.json"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Float("x", 2.0, 1.0), "low must not exceed high"),
        (lambda: Int("n", 5, 4), "low must not exceed high"),
        (lambda: Float("x", 0.0, 1.0, log=True), "log-scale parameter needs low > 0"),
        (lambda: Float("x", -1.0, 1.0, log=True), "log-scale parameter needs low > 0"),
        (lambda: Int("n", 0, 10, log=True), "log-scale integer needs low >= 1"),
        (lambda: Float("x", 0.0, 1.0, step=0.3), "does not fit"),
        (lambda: Int("n", 0, 10, step=3), "does not fit"),
        (lambda: Float("x", 0.0, 1.0, step=-0.5), "step must be positive"),
        (lambda: Float("x", 1e-3, 1.0, log=True, step=0.001), "step cannot be combined with log"),
        (lambda: Float("x", 0.0, 1e6, step=1e-9),
         r"step 1e-09 is too fine for values near 1e\+06: .* at least 9.09e-07, or none"),
        (lambda: Float("x", 0.0, math.inf), "finite number"),
        (lambda: Int("n", 0.5, 3), "must be an integer"),
        (lambda: Int("n", 0, 10**30), r"high must lie within ±2\*\*53 \(9007199254740992\)"),
        (lambda: Int("n", -2**60, 0), "low must lie within"),
        (lambda: Float("x", -1.7e308, 1.7e308), "wider than a float holds"),
        (lambda: Float("x", 0, 10**400), r"high must be a finite number that a float holds \(up "
                                         r"to about 1.8e308\), got an int of 1329 bits"),
        (lambda: Int("n", 0, 10**5000), r"high must lie within ±2\*\*53 \(9007199254740992\), got "
                                        "an int of 16610 bits"),
        (lambda: Int("n", 2**53 - 4, 2**53, log=True), "too narrow for a log scale"),
        (lambda: Categorical("c", []), "must not be empty"),
        (lambda: Categorical("c", ["a", "b", "a"]), "duplicate choice 'a'"),
        (lambda: Categorical("c", "abc"), "choices must be a list"),
        (lambda: Categorical("c", [[1, 2]]), "must be None, bool, int, float or str"),
        (lambda: Float("", 0.0, 1.0), "non-empty strings"),
        (lambda: SearchSpace([Float("x", 0, 1), Int("x", 0, 3)]), "duplicate parameter name 'x'"),
        (lambda: SearchSpace([]), "at least one parameter"),
    ],
)
def test_invalid_spaces_raise_clear_errors(make, message):
    with pytest.raises(MetaHPOError, match=message):
        make()


def test_encode_decode_round_trip_every_kind():
    space = mixed_space(16)
    rng = np.random.default_rng(0)
    for u in rng.random((200, space.dim)):
        params = space.decode(u)
        space.validate(params)
        again = space.decode(space.encode(params))
        assert again == params


def test_log_float_is_log_uniform_in_the_unit_cube():
    p = Float("lr", 1e-4, 1e-1, log=True)
    assert p.decode(0.0) == pytest.approx(1e-4)
    assert p.decode(1.0) == pytest.approx(1e-1)
    assert p.decode(0.5) == pytest.approx(math.sqrt(1e-4 * 1e-1))
    assert p.encode(1e-2) == pytest.approx(2 / 3)


def test_ints_and_steps_land_on_their_grid_with_equal_bins():
    p = Int("n", 0, 20, step=5)
    values = [p.decode(u) for u in np.linspace(0, 1, 1001)]
    assert set(values) == {0, 5, 10, 15, 20}
    counts = [values.count(v) for v in (0, 5, 10, 15, 20)]
    assert max(counts) - min(counts) <= 2
    f = Float("x", 0.0, 1.0, step=0.25)
    assert {f.decode(u) for u in np.linspace(0, 1, 101)} == {0.0, 0.25, 0.5, 0.75, 1.0}
    logint = Int("b", 16, 512, log=True)
    assert logint.decode(0.0) == 16 and logint.decode(1.0) == 512
    assert all(isinstance(logint.decode(u), int) for u in np.linspace(0, 1, 50))


def test_the_finest_steps_keep_their_values_on_the_grid_optuna_records():
    """Fine grids keep their values on the grid by Optuna's own check (that of its trials):
    decoding rounded values to 12 decimals, off a grid of 1e-13 steps from 5e-14. Values
    1e-5 apart near 1e6 are on the grid by metahpo's check, which allows for a float's rounding
    there (it did not); Optuna's allows 1e-8 steps, so the Optuna-based optimizers treat such grids as
    continuous (the conformance suite's ``check_wide_and_fine_grids``)."""
    import optuna

    rng = np.random.default_rng(0)
    for p in (Float("x", 5e-14, 1.00000005e-6, step=1e-13), Float("x", 1000.0, 1001.0, step=1e-4)):
        for v in p.decode_array(rng.random(300)):
            assert p.contains(float(v))
            optuna.trial.create_trial(params={"x": float(v)}, distributions={"x": to_optuna(p)},
                                      value=0.0)
    finest = Float("x", 1e6, 1e6 + 1, step=1e-5)
    assert all(finest.contains(float(v)) for v in finest.decode_array(rng.random(1000)))


def test_categorical_equal_bins_and_exact_types():
    c = Categorical("c", [1, False, "1", None])
    assert [c.decode(u) for u in (0.1, 0.3, 0.6, 0.9)] == [1, False, "1", None]
    assert c.encode(False) == pytest.approx(0.375)
    assert c.encode(1) == pytest.approx(0.125)
    with pytest.raises(MetaHPOError, match="duplicate choice True"):
        Categorical("c", [1, True])


def test_numpy_choices_and_bounds_become_the_python_values_they_hold(tmp_path):
    """``Categorical("units", np.array([32, 64]))`` and a ``Float`` with ``np.float32`` bounds
    were refused (NumPy integers are no ints, float32 no float)."""
    units = Categorical("units", np.array([32, 64, 128]))
    assert units.choices == (32, 64, 128) and all(type(c) is int for c in units.choices)
    mixed = Categorical("m", [np.float32(0.5), np.bool_(True), np.str_("x")])
    assert [type(c) for c in mixed.choices] == [float, bool, str]
    bounds = np.array([0.25, 1.0], dtype=np.float32)
    width = Float("w", bounds[0], bounds[1], step=np.float32(0.25))
    assert (width.low, width.high, width.step) == (0.25, 1.0, 0.25)
    assert type(width.low) is float and Float("x", np.int64(0), 1).low == 0.0
    space = SearchSpace([units, width])
    space.save(tmp_path / "space.json")
    assert SearchSpace.from_file(tmp_path / "space.json") == space


def test_validate_names_and_ranges():
    space = SearchSpace([Float("x", 0.0, 1.0), Int("n", 1, 3)])
    with pytest.raises(MetaHPOError, match="missing \\['n'\\]"):
        space.validate({"x": 0.5})
    with pytest.raises(MetaHPOError, match="outside"):
        space.validate({"x": 2.0, "n": 1})
    with pytest.raises(MetaHPOError, match="outside"):
        space.validate({"x": 0.5, "n": 1.5})


def test_json_and_yaml_round_trip(tmp_path):
    space = mixed_space(20)
    assert SearchSpace.from_json(space.to_json()) == space
    assert SearchSpace.from_yaml(space.to_yaml()) == space
    for suffix in (".json", ".yaml"):
        path = tmp_path / f"space{suffix}"
        space.save(path)
        assert SearchSpace.from_file(path) == space


def test_yaml_written_by_hand(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "lr: {type: float, low: 1.0e-4, high: 0.1, log: true}\n"
        "layers: {type: int, low: 1, high: 4}\n"
        "act: {type: categorical, choices: [relu, tanh]}\n"
    )
    space = SearchSpace.from_file(path)
    assert space.names == ["lr", "layers", "act"]
    assert space["lr"] == Float("lr", 1e-4, 0.1, log=True)


def test_yaml_exponents_are_numbers_as_in_json(tmp_path):
    """``1e-5`` and ``1.0e5`` are strings to a YAML 1.1 reader such as plain PyYAML."""
    path = tmp_path / "space.yaml"
    path.write_text(
        "lr: {type: float, low: 1e-5, high: 1E-1, log: true}\n"
        "wd: {type: float, low: 0, high: 1.0e2}\n"
        "eps: {type: categorical, choices: [1e-8, 1.0e-6, none]}\n"
        "tag: {type: categorical, choices: [v1e5, 1e5x, 07]}\n"
    )
    space = SearchSpace.from_file(path)
    assert space["lr"] == Float("lr", 1e-5, 0.1, log=True)
    assert space["wd"] == Float("wd", 0.0, 100.0)
    assert space["eps"] == Categorical("eps", [1e-8, 1e-6, "none"])
    assert space["tag"].choices == ("v1e5", "1e5x", 7)


@pytest.mark.parametrize(
    "text, message",
    [
        ("lr: {type: float, low: 1}\n", "missing \\['high'\\]"),
        ("lr: {type: double, low: 0, high: 1}\n",
         "unknown type 'double'; use float, int or categorical; 'double' is written \\{type: "
         "float, low: A, high: B\\}$"),
        ("lr: {type: loguniform, low: 1.0e-4, high: 0.1}\n",
         "'loguniform' is written \\{type: float, low: A, high: B, log: true\\}$"),
        ("n: {type: randint, low: 1, high: 9}\n",
         "high is included, unlike in Ray Tune's randint"),
        ("lr: {type: [float], low: 0, high: 1}\n", "unknown type \\['float'\\]; use float"),
        ("lr: {type: float, min: 0, max: 1}\n",
         "unknown keys \\['max', 'min'\\].*; 'max': write high; 'min': write low$"),
        ("lr: {type: float, low: 0, high: 1, default: 0.5}\n",
         "'default': configurations to evaluate first go in --points-to-evaluate"),
        ("lr: {type: float, low: 0, high: 1, lgo: true}\n", "unknown keys \\['lgo'\\]"),
        ("lr: {type: float, low: 0, high: 1, condition: {opt: sgd}}\n",
         "unknown keys \\['condition'\\].*active_if: \\{parent: \\[values\\]\\}"),
        ("- just a list\n", "mapping from parameter name"),
        ("optimizer: [sgd, adam]\n",
         "choices are written \\{type: categorical, choices: \\[sgd, adam\\]\\}"),
        ("lr: {low: 1.0e-4, high: 0.1, log: true}\n", "add 'type: float' or 'type: int'"),
        ("act: {choices: [relu, tanh]}\n", "add 'type: categorical'"),
        ("forbiden: [warmup >= epochs]\n", "forbidden clauses go in a list under the key"),
        ("lr: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_space_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(MetaHPOError, match=message):
        SearchSpace.from_file(path)


def test_missing_space_file(tmp_path):
    with pytest.raises(MetaHPOError, match="cannot read search space file"):
        SearchSpace.from_file(tmp_path / "nope.yaml")


def test_reads_yahpo_lcbench_configspace():
    space = SearchSpace.from_file(LCBENCH_CONFIGSPACE)
    assert space.dim == 9
    assert space["batch_size"] == Int("batch_size", 16, 512, log=True)
    assert space["learning_rate"].log and space["max_dropout"] == Float("max_dropout", 0.0, 1.0)
    assert len(space["OpenML_task_id"].choices) == 34
    hpo = space.without("OpenML_task_id", "epoch")
    assert hpo.dim == 7
    assert SearchSpace.from_json(json.dumps(json.loads(LCBENCH_CONFIGSPACE.read_text()))) == space


def test_vectorised_decode_agrees_with_decode():
    space = mixed_space(16)
    u = np.random.default_rng(1).random((300, space.dim))
    u[:5] = 0.0
    u[5:10] = 1.0
    columns = space.decode_columns(u)
    for row, point in enumerate(u):
        params = space.decode(point)
        for p, col in zip(space, columns):
            expected = params[p.name]
            got = p.choices[int(col[row])] if isinstance(p, Categorical) else col[row]
            assert got == expected


def test_a_space_decodes_each_parameter_as_the_parameter_alone_does():
    space = mixed_space(16)
    assert len({type(p) for p in space}) == 3
    u = np.random.default_rng(3).uniform(-0.1, 1.1, (200, space.dim))
    for point in u:
        params = space.decode(point)
        assert list(params) == space.names
        for p, x in zip(space, point):
            alone = p.decode(x)
            assert params[p.name] == alone and type(params[p.name]) is type(alone)


def test_snap_agrees_with_encode_of_decode():
    space = mixed_space(16)
    u = np.random.default_rng(2).random((200, space.dim))
    snapped = space.snap(u)
    expected = np.stack([space.encode(space.decode(row)) for row in u])
    np.testing.assert_allclose(snapped, expected, atol=1e-9)


def test_all_configurations_of_a_discrete_space_are_its_snapped_points():
    space = SearchSpace([Int("batch", 16, 64, log=True), Float("drop", 0.0, 0.5, step=0.25),
                         Categorical("act", ["relu", "tanh"])])
    grid = space.all_configurations(10_000)
    assert grid.shape == (49 * 3 * 2, 3)
    configs = {tuple(space.decode(u).values()) for u in grid}
    assert len(configs) == 49 * 3 * 2
    assert np.allclose(space.snap(grid), grid)
    assert space.all_configurations(100) is None
    assert SearchSpace([Float("lr", 1e-4, 1e-1, log=True)]).all_configurations(10_000) is None
