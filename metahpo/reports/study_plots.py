"""PNG plots of a stored study, for ``metahpo studies plot``: Optuna's own matplotlib plots of
the study (a metahpo study is an Optuna study), written as files where no browser is at hand for
optuna-dashboard (a cluster's login node, a CI job's artifacts).

Which plots: the values against the trials with the best so far (the Pareto front for two or
three objectives), each parameter against the value (one objective), the parameters'
importances (Optuna's fANOVA, seeded so that a study gets the same bars each time; per objective
where there are several; from ten complete trials on, as fewer make a random forest's split of
the variance noise) and, where trials reported them, the learning curves. Optuna draws the
complete trials only (failed, interrupted and pruned ones are left out; pruned ones stay in the
learning curves), and it does not mark trials that broke a constraint (metahpo keeps
constraints in attributes of its own).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

from metahpo.errors import MetaHPOError

MIN_TRIALS_FOR_IMPORTANCES = 10


def plot_study(study: Any, out: str | Path) -> tuple[list[Path], list[str]]:
    """Write ``NAME_history.png`` (or ``NAME_front.png``), ``NAME_slice.png``,
    ``NAME_importances.png`` and ``NAME_curves.png`` of the :class:`metahpo.Study` ``study``
    into the folder ``out`` (made if missing), those that apply; return the paths written and,
    for each plot left out, why."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as optuna_plots

    source = optuna.load_study(study_name=study.name, storage=study.storage)
    trials = source.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise MetaHPOError(f"study {study.name!r} has no complete trial to plot")
    n_objectives = len(source.directions)
    plots: list[tuple[str, Callable[[], Any]]] = []
    if n_objectives == 1:
        plots += [("history", lambda: optuna_plots.plot_optimization_history(source)),
                  ("slice", lambda: optuna_plots.plot_slice(source))]
    elif n_objectives <= 3:
        plots.append(("front", lambda: optuna_plots.plot_pareto_front(source)))
    if len(complete) >= MIN_TRIALS_FOR_IMPORTANCES:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        plots.append(("importances",
                      lambda: optuna_plots.plot_param_importances(source, evaluator=evaluator)))
    if any(t.intermediate_values for t in trials):
        plots.append(("curves", lambda: optuna_plots.plot_intermediate_values(source)))

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written, skipped = [], []
    for kind, draw in plots:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            try:
                axes = draw()
            except (ValueError, RuntimeError) as exc:
                skipped.append(f"{kind}: {exc}")
                continue
        figure = _figure_of(axes)
        path = folder / f"{study.name}_{kind}.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCES:
        plural = "s" if len(complete) != 1 else ""
        skipped.append(f"importances: {len(complete)} complete trial{plural}; they take "
                       f"{MIN_TRIALS_FOR_IMPORTANCES} or more")
    if n_objectives > 3:
        skipped.append(f"front: Optuna draws fronts of two or three objectives, and study "
                       f"{study.name!r} has {n_objectives}")
    return written, skipped


def _figure_of(axes: Any) -> Any:
    """The figure of what an Optuna plot returns: one ``Axes`` or an array of them."""
    import numpy as np

    return np.atleast_1d(np.asarray(axes, dtype=object)).ravel()[0].figure
