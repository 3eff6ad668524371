"""YAHPO Gym surrogate benchmarks, read directly with onnxruntime.

A YAHPO data folder holds one sub-folder per scenario (``lcbench``, ``rbv2_xgboost``, ...) with a
ConfigSpace file (``config_space.json``), the categorical encoding (``encoding.json``) and the
surrogate (``model.onnx``). The surrogate takes ``x_cont`` (float32, natural units, in the
scenario's ``cont_names`` order; ``0`` for parameters a configuration leaves inactive) and
``x_cat`` (int32 codes from ``encoding.json`` in ``cat_names`` order; the ``#na#`` code for
inactive ones), as YAHPO Gym feeds it (:mod:`metahpo.tasks.yahpo_conditions`), and returns one
column per target in ``y_names`` order.

The ``yahpo-gym`` package is not used (it pins numpy<2 and an old ConfigSpace); the scenario
metadata below restates what YAHPO Gym publishes for each scenario with the v1.0.2 data (the
rbv2 scenarios' nine targets are those of that release's ``global_statistics``; their ``f1``
is maximized here, where YAHPO Gym's table marks it to be minimized). The widths it gives the
surrogate's inputs and output are checked against those the surrogate declares when it is
loaded, so a data folder of another YAHPO release is refused by name rather than read wrongly.

The data folder comes from, in order: the ``data_path`` argument (CLI ``--yahpo-data``), the
environment variable ``METAHPO_YAHPO_DATA``, then ``../shared/data/yahpo`` beside the current
directory or beside the metahpo source tree.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence, cast

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.space import Categorical, Int, SearchSpace
from metahpo.tasks.base import Task
from metahpo.tasks.yahpo_conditions import ActiveRules

ENV_VAR = "METAHPO_YAHPO_DATA"


@dataclass(frozen=True)
class ScenarioMeta:
    """What the surrogate of one YAHPO scenario expects and returns."""

    targets: tuple[str, ...]
    minimize: tuple[bool, ...]
    cont_names: tuple[str, ...]
    cat_names: tuple[str, ...]
    instance_param: str | None
    fidelity_params: tuple[str, ...]
    runtime_name: str | None
    default_target: str
    #: the surrogate's and the encoding's file names, each in order of preference (nb301's
    #: second surrogate, ``model_v2.onnx``, came with an encoding of its own)
    files: tuple[tuple[str, str], ...] = (("model.onnx", "encoding.json"),)


def _meta(targets, minimize, cont, cat, instance, fidelity, runtime, default,
          files=(("model.onnx", "encoding.json"),)) -> ScenarioMeta:
    return ScenarioMeta(tuple(targets), tuple(minimize), tuple(cont), tuple(cat), instance,
                        tuple(fidelity), runtime, default, tuple(files))


_RBV2_Y = ["acc", "bac", "auc", "brier", "f1", "logloss", "timetrain", "timepredict", "memory"]
_RBV2_MIN = [False, False, False, True, False, True, True, True, True]
_IAML_Y = ["mmce", "f1", "auc", "logloss", "ramtrain", "rammodel", "rampredict", "timetrain",
           "timepredict", "mec", "ias", "nf"]
_IAML_MIN = [True, False, False, True, True, True, True, True, True, True, True, True]
_XGB = ["nrounds", "eta", "gamma", "lambda", "alpha", "subsample", "max_depth",
        "min_child_weight", "colsample_bytree", "colsample_bylevel", "rate_drop", "skip_drop"]


def _rbv2(cont: list[str], cat: list[str]) -> ScenarioMeta:
    return _meta(_RBV2_Y, _RBV2_MIN, cont + ["trainsize", "repl"], ["task_id"] + cat,
                 "task_id", ["trainsize", "repl"], "timetrain", "acc")


def _iaml(cont: list[str], cat: list[str]) -> ScenarioMeta:
    return _meta(_IAML_Y, _IAML_MIN, cont + ["trainsize"], ["task_id"] + cat, "task_id",
                 ["trainsize"], "timetrain", "mmce")


_NB301_CATS = (
    [f"NetworkSelectorDatasetInfo_COLON_darts_COLON_edge_normal_{i}" for i in range(14)]
    + [f"NetworkSelectorDatasetInfo_COLON_darts_COLON_edge_reduce_{i}" for i in range(14)]
    + [f"NetworkSelectorDatasetInfo_COLON_darts_COLON_inputs_node_normal_{i}" for i in (3, 4, 5)]
    + [f"NetworkSelectorDatasetInfo_COLON_darts_COLON_inputs_node_reduce_{i}" for i in (3, 4, 5)]
)

SCENARIOS: dict[str, ScenarioMeta] = {
    "lcbench": _meta(
        ["time", "val_accuracy", "val_cross_entropy", "val_balanced_accuracy",
         "test_cross_entropy", "test_balanced_accuracy"],
        [True, False, True, False, True, False],
        ["epoch", "batch_size", "learning_rate", "momentum", "weight_decay", "num_layers",
         "max_units", "max_dropout"],
        ["OpenML_task_id"], "OpenML_task_id", ["epoch"], "time", "val_accuracy"),
    "fcnet": _meta(
        ["valid_loss", "valid_mse", "runtime", "n_params"], [True, True, True, True],
        ["epoch", "replication", "batch_size", "dropout_1", "dropout_2", "init_lr", "n_units_1",
         "n_units_2"],
        ["task", "activation_fn_1", "activation_fn_2", "lr_schedule"], "task",
        ["epoch"], "runtime", "valid_loss"),
    "nb301": _meta(
        ["val_accuracy", "val_cross_entropy", "runtime", "runtime_increase"],
        [False, True, True, True], ["epoch"], _NB301_CATS, None, ["epoch"], "runtime",
        "val_accuracy", files=(("model_v2.onnx", "encoding_v2.json"),
                               ("model.onnx", "encoding.json"))),
    "taskset": _meta(
        ["train", "valid1", "valid2", "test"], [True, True, True, True],
        ["epoch", "replication", "learning_rate", "beta1", "beta2", "epsilon", "l1", "l2",
         "linear_decay", "exponential_decay"],
        ["task_name", "optimizer"], "task_name", ["epoch", "replication"], None, "valid1"),
    "rbv2_svm": _rbv2(["cost", "gamma", "tolerance", "degree"], ["kernel", "num.impute.selected.cpo"]),
    "rbv2_ranger": _rbv2(
        ["num.trees", "sample.fraction", "mtry.power", "min.node.size", "num.random.splits"],
        ["respect.unordered.factors", "splitrule", "num.impute.selected.cpo"]),
    "rbv2_rpart": _rbv2(["cp", "maxdepth", "minbucket", "minsplit"], ["num.impute.selected.cpo"]),
    "rbv2_glmnet": _rbv2(["alpha", "s"], ["num.impute.selected.cpo"]),
    "rbv2_xgboost": _rbv2(_XGB, ["booster", "num.impute.selected.cpo"]),
    "rbv2_aknn": _rbv2(["k", "M", "ef", "ef_construction"], ["distance", "num.impute.selected.cpo"]),
    "rbv2_super": _rbv2(
        ["svm.cost", "svm.gamma", "svm.tolerance", "svm.degree", "glmnet.alpha", "glmnet.s",
         "rpart.cp", "rpart.maxdepth", "rpart.minbucket", "rpart.minsplit", "ranger.num.trees",
         "ranger.sample.fraction", "ranger.mtry.power", "ranger.min.node.size",
         "ranger.num.random.splits", "aknn.k", "aknn.M", "aknn.ef", "aknn.ef_construction"]
        + [f"xgboost.{n}" for n in _XGB],
        ["learner_id", "svm.kernel", "ranger.respect.unordered.factors", "ranger.splitrule",
         "aknn.distance", "xgboost.booster", "num.impute.selected.cpo"]),
    "iaml_ranger": _iaml(
        ["num.trees", "sample.fraction", "mtry.ratio", "min.node.size", "num.random.splits"],
        ["replace", "respect.unordered.factors", "splitrule"]),
    "iaml_rpart": _iaml(["cp", "maxdepth", "minbucket", "minsplit"], []),
    "iaml_glmnet": _iaml(["alpha", "s"], []),
    "iaml_xgboost": _iaml(_XGB, ["booster"]),
    "iaml_super": _iaml(
        ["ranger.num.trees", "ranger.sample.fraction", "ranger.mtry.ratio", "ranger.min.node.size",
         "ranger.num.random.splits", "rpart.cp", "rpart.maxdepth", "rpart.minbucket",
         "rpart.minsplit", "glmnet.alpha", "glmnet.s"] + [f"xgboost.{n}" for n in _XGB],
        ["learner", "ranger.replace", "ranger.respect.unordered.factors", "ranger.splitrule",
         "xgboost.booster"]),
}


def yahpo_data_path(path: str | os.PathLike | None = None) -> Path:
    """The YAHPO data folder: ``path``, else ``$METAHPO_YAHPO_DATA``, else ``../shared/data/yahpo``."""
    if path is not None:
        candidates = [Path(path)]
    elif os.environ.get(ENV_VAR):
        candidates = [Path(os.environ[ENV_VAR])]
    else:
        source_root = Path(__file__).resolve().parents[2]
        candidates = [Path.cwd().parent / "shared/data/yahpo", Path.cwd() / "shared/data/yahpo",
                      source_root.parent / "shared/data/yahpo"]
    for c in candidates:
        if c.is_dir():
            return c
    raise MetaHPOError(
        "YAHPO data folder not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + f"); pass --yahpo-data PATH or set {ENV_VAR}"
    )


class YahpoScenario:
    """One scenario of a YAHPO data folder: its space, instances and batched surrogate.

    The space (:attr:`space`: the HPO parameters, without the instance and the fidelities)
    holds the scenario's conditions where metahpo represents them (those ConfigSpace
    conditions :meth:`~metahpo.space.SearchSpace.from_configspace` reads, on searched
    parents), as YAHPO Gym's optimization space does, so that the optimizers know
    which choice a parameter belongs to (on the rbv2_svm stand-in of the tests, ``meta``'s
    regret after 30 trials fell from 0.051 to 0.023 with them:
    ``benchmarks/results/yahpo_stand_in*``); otherwise every parameter is always active.
    Either way the surrogate is asked with the parameters each configuration leaves inactive
    masked as YAHPO Gym masks them (see the module docstring): unit-cube points
    (meta-training, regret bounds) carry values for every parameter.

    Args:
        name: scenario name, one of :data:`SCENARIOS`.
        data_path: the YAHPO data folder (see :func:`yahpo_data_path`).
    """

    def __init__(self, name: str, data_path: str | os.PathLike | None = None) -> None:
        if name not in SCENARIOS:
            raise MetaHPOError(f"unknown YAHPO scenario {name!r}; known: {', '.join(SCENARIOS)}")
        self.name = name
        self.meta = SCENARIOS[name]
        self.folder = yahpo_data_path(data_path) / name
        present = [pair for pair in self.meta.files
                   if all((self.folder / f).is_file() for f in pair)]
        for f in ("config_space.json", *(() if present else self.meta.files[0])):
            if not (self.folder / f).is_file():
                raise MetaHPOError(f"YAHPO scenario {name!r}: missing {self.folder / f}")
        self.model_path, encoding_path = (self.folder / f for f in present[0])
        try:
            document = json.loads((self.folder / "config_space.json").read_text())
        except json.JSONDecodeError as exc:
            raise MetaHPOError(f"{self.folder / 'config_space.json'} is not valid JSON: "
                               f"{exc}") from None
        self.rules = ActiveRules(document)
        fixed = [p for p in (self.meta.instance_param, *self.meta.fidelity_params) if p]
        self.full_space = SearchSpace.from_configspace(document, ignore_conditions=True)
        try:  # conditions metahpo cannot represent, or on the instance or a fidelity
            conditional = SearchSpace.from_configspace(document)
            self.space = conditional.without(*[p for p in fixed if p in conditional.names])
        except MetaHPOError:
            self.space = self.full_space.without(*[p for p in fixed if p in self.full_space.names])
        try:
            self.encoding: dict[str, dict[str, int]] = json.loads(encoding_path.read_text())
        except json.JSONDecodeError as exc:
            raise MetaHPOError(f"{encoding_path} is not valid JSON: {exc}") from None

    @property
    def instances(self) -> list[str]:
        """Instance ids (e.g. OpenML task ids), as strings, in the ConfigSpace's order."""
        if self.meta.instance_param is None:
            return ["default"]
        param = cast(Categorical, self.full_space[self.meta.instance_param])
        return [str(c) for c in param.choices]

    def fidelity_max(self) -> dict[str, Any]:
        """The largest value of every fidelity parameter (the default evaluation budget)."""
        out: dict[str, Any] = {}
        for name in self.meta.fidelity_params:
            p = self.full_space[name]
            out[name] = p.choices[-1] if isinstance(p, Categorical) else p.high
        return out

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        path = self.model_path
        try:
            session = ort.InferenceSession(str(path), sess_options=opts,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise MetaHPOError(f"cannot load surrogate {path}: {exc}") from None
        inputs = {i.name: i.shape for i in session.get_inputs()}
        widths = {"x_cont": (len(self.meta.cont_names), "continuous inputs", self.meta.cont_names),
                  "x_cat": (len(self.meta.cat_names), "categorical inputs", self.meta.cat_names)}
        if set(inputs) != set(widths):
            raise MetaHPOError(f"surrogate {path} takes inputs {sorted(inputs)}; a YAHPO "
                               f"surrogate takes x_cont and x_cat")
        declared = [(inputs[key], *widths[key]) for key in widths]
        declared.append((session.get_outputs()[0].shape, len(self.meta.targets), "targets",
                         self.meta.targets))
        for shape, width, what, names in declared:
            if len(shape) == 2 and isinstance(shape[1], int) and shape[1] != width:
                raise MetaHPOError(
                    f"YAHPO scenario {self.name!r}: its surrogate {path} has {shape[1]} "
                    f"{what}, where metahpo's description of the scenario (YAHPO Gym with the "
                    f"v1.0.2 data) has {width}: {', '.join(names)}; the data folder is of "
                    "another YAHPO release")
        return session

    def _code(self, name: str, value: Any) -> int:
        table = self.encoding.get(name, {})
        key = str(value)
        if key not in table and isinstance(value, float) and value.is_integer():
            key = str(int(value))
        if key not in table:
            raise MetaHPOError(f"YAHPO scenario {self.name!r}: no code for {name}={value!r}")
        return table[key]

    def predict(self, u: np.ndarray, instance: str, fixed: Mapping[str, Any] | None = None) -> np.ndarray:
        """All targets of configurations given as unit-cube points of :attr:`space`.

        Args:
            u: points ``(n, dim)`` in the unit cube of the HPO space (instance and fidelity
                parameters excluded).
            instance: the instance id.
            fixed: fidelity values (default: :meth:`fidelity_max`): one value each, or for a
                numeric fidelity an array ``(n,)`` of one value per point.

        Returns:
            ``(n, len(meta.targets))`` float array, in ``meta.targets`` order.
        """
        u = np.atleast_2d(np.asarray(u, dtype=float))
        n = u.shape[0]
        values: dict[str, np.ndarray] = {}
        columns = self.space.decode_columns(u)
        for p, col in zip(self.space, columns):
            if isinstance(p, Categorical):
                codes = np.array([self._code(p.name, c) for c in p.choices], dtype=np.int32)
                values[p.name] = codes[col.astype(int)]
            else:
                values[p.name] = col
        constants = {**self.fidelity_max(), **(fixed or {})}
        if self.meta.instance_param is not None:
            constants[self.meta.instance_param] = instance
        for name, value in constants.items():
            if name in self.meta.cat_names:
                values[name] = np.full(n, self._code(name, value), dtype=np.int32)
            else:
                values[name] = np.broadcast_to(np.asarray(value, dtype=float), (n,))
        self._mask_inactive(values, columns, constants, n)
        na = self.encoding
        x_cont = np.stack([values.get(c, np.zeros(n)) for c in self.meta.cont_names],
                          axis=1).astype(np.float32)
        x_cat = np.stack(
            [values[c] if c in values else np.full(n, na.get(c, {}).get("#na#", 0))
             for c in self.meta.cat_names], axis=1).astype(np.int32)
        out = self._session.run(None, {"x_cont": x_cont, "x_cat": x_cat})[0]
        return np.asarray(out, dtype=float)

    def _mask_inactive(self, values: dict[str, np.ndarray], columns: Sequence[np.ndarray],
                       constants: Mapping[str, Any], n: int) -> None:
        """Set the parameters each of the ``n`` configurations leaves inactive in ``values``
        (the surrogate's inputs by name, ``(n,)`` each) to ``0`` or the ``#na#`` code, by the
        configurations' decoded ``columns`` (one per parameter of :attr:`space`)."""
        if not self.rules.conditional:
            return
        plain: dict[str, np.ndarray] = {}
        for p, col in zip(self.space, columns):
            plain[p.name] = (np.asarray([str(c) for c in p.choices])[col.astype(int)]
                             if isinstance(p, Categorical) else col)
        for name, value in constants.items():
            if name in self.full_space.names:
                plain[name] = (np.full(n, str(value))
                               if isinstance(self.full_space[name], Categorical)
                               else np.broadcast_to(np.asarray(value, dtype=float), (n,)))
        for name, active in self.rules.active(plain, n).items():
            if name not in values:
                continue
            if name in self.meta.cat_names:
                na = self.encoding.get(name, {}).get("#na#", 0)
                values[name] = np.where(active, values[name], na).astype(np.int32)
            else:
                values[name] = np.where(active, values[name], 0.0)

    def task(self, instance: str, *, target: str | None = None) -> "YahpoTask":
        return YahpoTask(self, str(instance), target=target)


class YahpoTask(Task):
    """One instance of a YAHPO scenario as a task (objective: ``target`` at the largest fidelity)."""

    cheap = True

    def __init__(self, scenario: YahpoScenario, instance: str, *, target: str | None = None) -> None:
        if instance not in scenario.instances:
            raise MetaHPOError(
                f"YAHPO scenario {scenario.name!r} has no instance {instance!r}; "
                f"instances: {', '.join(scenario.instances)}"
            )
        target = target or scenario.meta.default_target
        if target not in scenario.meta.targets:
            raise MetaHPOError(
                f"YAHPO scenario {scenario.name!r} has no target {target!r}; "
                f"targets: {', '.join(scenario.meta.targets)}"
            )
        self.scenario = scenario
        self.instance = instance
        self.target = target
        self._column = scenario.meta.targets.index(target)
        self.space = scenario.space
        self.direction = "minimize" if scenario.meta.minimize[self._column] else "maximize"
        self.name = f"{scenario.name}/{instance}"

    def evaluate_unit(self, u: np.ndarray) -> np.ndarray:
        return self.scenario.predict(u, self.instance)[:, self._column]

    def evaluate(self, params: Mapping[str, Any]) -> float:
        return float(self.evaluate_unit(self.space.encode(params)[None, :])[0])

    def learning_curve(self, params: Mapping[str, Any]) -> np.ndarray:
        """The target after each step of a training with ``params``: one value per value of the
        scenario's fidelity, ``(n_steps,)`` (lcbench: validation accuracy after epochs 1..52;
        the last is :meth:`evaluate`'s). For benchmarks of pruning, where a trial reports its
        curve and may be stopped early. Scenarios with one integer fidelity only."""
        fidelities = self.scenario.meta.fidelity_params
        param = self.scenario.full_space[fidelities[0]] if len(fidelities) == 1 else None
        if not isinstance(param, Int):
            raise MetaHPOError(f"YAHPO scenario {self.scenario.name!r} has no single integer "
                               f"fidelity to give a learning curve over ({fidelities})")
        steps = np.arange(param.low, param.high + 1, param.step)
        u = np.repeat(self.space.encode(params)[None, :], len(steps), axis=0)
        return self.scenario.predict(u, self.instance, {param.name: steps})[:, self._column]


def parse_instances(spec: str | Sequence[str] | None, scenario: YahpoScenario,
                    named: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Instances from ``"all"``, a named split (e.g. ``"test"``) or ``"ID,ID,..."``."""
    if spec is None or spec == "all":
        return scenario.instances
    if isinstance(spec, str) and named and spec in named:
        return list(named[spec])
    if spec in ("train", "test"):
        raise MetaHPOError(
            f"YAHPO scenario {scenario.name!r} has no fixed {spec} split; pass instances as "
            "ID,ID,... or all"
        )
    ids = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s) for s in spec]
    unknown = [i for i in ids if i not in scenario.instances]
    if unknown:
        raise MetaHPOError(f"unknown {scenario.name} instances {unknown}")
    return ids
