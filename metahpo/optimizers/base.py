"""The ask/tell contract that every metahpo optimizer implements.

An optimizer sees only its search space and the trials it is told about: never a storage, a task
or a study. One loop drives it::

    opt = metahpo.create_optimizer("random", space, direction="maximize", seed=0)
    for _ in range(20):
        trial = opt.ask()                    # Trial(number=0, params={...})
        opt.tell(trial, evaluate(trial.params))

State rules:

* ``ask()`` may be called several times before the matching ``tell()`` calls (pending trials,
  e.g. parallel workers); each ``ask()`` returns a new trial number.
* ``tell(trial, value)`` completes a pending trial. ``value=None``, NaN, an infinity, or
  ``tell(trial, error="...")`` records a FAILED trial; the optimizer keeps working.
* Each pending trial is told exactly once; telling an unknown or finished trial is an error.
* ``add_trial(params, value)`` records a trial evaluated elsewhere (a resumed study, another
  worker) as if it had been asked and told; it gets the next trial number. Its
  ``optimizer_attrs`` (see :class:`~metahpo.trial.Trial`) are what the optimizer that proposed
  it kept with it, which an optimizer of the same kind reads back.
* ``add_pending(params)`` records a trial running elsewhere (another process on the same study)
  as if it had been asked: proposals take it into account like the optimizer's own pending
  trials, and ``tell`` completes it. It gets the next trial number.
* ``withdraw(trial)`` forgets a pending trial that will have no outcome (it was interrupted):
  it enters no history, and proposals no longer steer away from it.
* ``ask()`` never returns a configuration that one of the space's forbidden clauses forbids
  (see :mod:`metahpo.forbidden`): it discards such a proposal and proposes again.
* ``state_dict()`` returns JSON-serializable state, and ``restore_optimizer(state)`` rebuilds an
  optimizer whose future ``ask()`` calls match those of the original.
* With the same seed and the same sequence of calls, an optimizer proposes the same trials.
  ``add_trial`` and ``add_pending`` restart the seeded random stream from the seed and the trial
  count, so a resumed search does not repeat the draws of the run it resumes.

Subclasses implement ``_propose()`` and may override ``_observe(record)`` and the extra-state
hooks; everything else (validation, numbering, failed trials, direction) lives here.
"""

from __future__ import annotations

import abc
import json
from datetime import datetime
from typing import Any, ClassVar, Mapping, cast

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.forbidden import MAX_PROPOSALS
from metahpo.scalarization import as_losses, dominated
from metahpo.space import SearchSpace
from metahpo.trial import Trial, TrialRecord, TrialState, check_direction, objective_outcome


class Optimizer(abc.ABC):
    """Base class of all optimizers; see the module docstring for the contract.

    Args:
        space: the search space.
        direction: ``"minimize"`` or ``"maximize"`` the objective value.
        seed: seed of the optimizer's random number generator (``None``: fresh entropy).
    """

    name: ClassVar[str] = ""

    def __init__(self, space: SearchSpace, *, direction: str = "minimize", seed: int | None = None):
        if not isinstance(space, SearchSpace):
            raise MetaHPOError(f"space must be a metahpo.SearchSpace, got {type(space).__name__}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise MetaHPOError(f"seed must be a non-negative int or None, got {seed!r}")
        self.space = space
        self.direction = check_direction(direction)
        self.seed = None if seed is None else int(seed)
        self._rng = np.random.default_rng(self.seed)
        self._history: list[TrialRecord] = []
        self._pending: dict[int, Trial] = {}
        self._next_number = 0
        self._options: dict[str, Any] = {}
        #: Each trial's parameters and unit-cube point (:meth:`unit_point`); how many trials of
        #: the history :attr:`best` has read, and the best of them.
        self._encodings: dict[int, tuple[Mapping[str, Any], np.ndarray]] = {}
        self._best_read: tuple[int, TrialRecord | None] = (0, None)
        cls = type(self)
        own = cls.__module__.startswith("metahpo.optimizers.") and cls.name
        #: What :func:`~metahpo.create_optimizer` takes to build this class again (a registered
        #: name or ``MODULE:CLASS``); ``create_optimizer`` sets the reference it was given.
        self.reference: str = cls.name if own else f"{cls.__module__}:{cls.__qualname__}"

    # public contract --------------------------------------------------------------------------

    def ask(self) -> Trial:
        """Propose the next configuration as a pending :class:`Trial`.

        In a space with forbidden clauses (see :mod:`metahpo.forbidden`), a forbidden proposal
        is discarded (:meth:`_discard_proposal`) and the optimizer proposes again; after
        ``MAX_PROPOSALS`` forbidden ones in a row, the trial gets a uniformly drawn allowed
        configuration instead (without optimizer attributes)."""
        for _ in range(MAX_PROPOSALS):
            params = self._propose()
            self.space.validate(params)
            if self.space.forbids(params) is None:
                attrs = self._proposal_attrs()
                break
            self._discard_proposal()
        else:
            params, attrs = self.space.sample_allowed(self._rng), {}
        trial = Trial(number=self._next_number, params=params,
                      optimizer_attrs=self._checked_attrs(attrs))
        self._next_number += 1
        self._pending[trial.number] = trial
        return trial

    def tell(self, trial: Trial, value: Any = None, *, error: str | None = None,
             last_report: tuple[int, float] | None = None) -> TrialRecord:
        """Complete a pending trial with its objective value, or mark it failed; a trial stopped
        by a pruner is failed with an error beginning with ``"pruned"`` and may come with the
        ``(step, value)`` it reported last (:attr:`TrialRecord.last_report`)."""
        if not isinstance(trial, Trial):
            raise MetaHPOError(f"tell() expects a Trial from ask(), got {type(trial).__name__}")
        pending = self._pending.get(trial.number)
        if pending is None:
            raise MetaHPOError(
                f"trial {trial.number} is not pending: tell each trial from ask() exactly once"
            )
        if dict(pending.params) != dict(trial.params):
            raise MetaHPOError(f"trial {trial.number} was told with other params than it was asked")
        record = self._new_record(trial, value, error, last_report)
        del self._pending[trial.number]
        return self._keep(record)

    def add_trial(
        self, params: Mapping[str, Any], value: Any = None, *, error: str | None = None,
        last_report: tuple[int, float] | None = None,
        optimizer_attrs: Mapping[str, Any] | None = None,
    ) -> TrialRecord:
        """Record a trial evaluated outside this optimizer (resume, other workers); arguments
        as for :meth:`tell`, and the ``optimizer_attrs`` its proposal came with."""
        trial = self._outside_trial(params, optimizer_attrs)
        return self._keep(self._new_record(trial, value, error, last_report))

    def add_pending(self, params: Mapping[str, Any], *,
                    optimizer_attrs: Mapping[str, Any] | None = None) -> Trial:
        """Record a trial running elsewhere (another worker on the same study) as pending, so
        that the next proposals steer away from it as from this optimizer's own pending trials;
        complete it with :meth:`tell` once its result is known. ``optimizer_attrs``: those its
        proposal came with."""
        trial = self._outside_trial(params, optimizer_attrs)
        self._pending[trial.number] = trial
        self._pending_added(trial)
        return trial

    def withdraw(self, trial: Trial) -> None:
        """Forget the pending ``trial``, which will have no outcome: its run was interrupted (a
        Ctrl-C, a process that died), which says nothing about its configuration, so it is
        neither told as failed nor kept pending. Its number is not used again."""
        if not isinstance(trial, Trial) or self._pending.get(trial.number) != trial:
            raise MetaHPOError(f"withdraw() expects a pending trial, got {trial!r}")
        del self._pending[trial.number]
        self._withdrawn(trial)

    def _outside_trial(self, params: Mapping[str, Any],
                       optimizer_attrs: Mapping[str, Any] | None) -> Trial:
        """A numbered trial for ``params`` proposed elsewhere; restarts the random draws."""
        self.space.validate(params)
        if optimizer_attrs is not None and not isinstance(optimizer_attrs, Mapping):
            raise MetaHPOError(f"optimizer_attrs must be a dict {{key: value}}, got "
                               f"{optimizer_attrs!r}")
        trial = Trial(number=self._next_number, params=dict(params),
                      optimizer_attrs=dict(optimizer_attrs or {}))
        self._next_number += 1
        self.restart_draws(self._next_number)
        return trial

    def restart_draws(self, key: int) -> None:
        """Restart a seeded optimizer's random draws from ``(seed, key)``; without a seed, do
        nothing. What the optimizer plans once from its seed (a policy's initial design) stays.

        ``add_trial`` and ``add_pending`` call it with the trial count: otherwise a resumed search
        would replay the draws of the run it resumes, and processes sharing a study and a seed
        would draw the same proposals. A caller that rebuilds an optimizer for every trial calls
        it with the trial's number, so that trials reading the same history draw differently."""
        if self.seed is not None:
            self._rng = np.random.default_rng([self.seed, int(key)])

    @property
    def can_rewind(self) -> bool:
        """Whether :meth:`rewind` can take back told trials cheaper than building the optimizer
        afresh (the meta-learned optimizer can; most optimizers' state is cheap to rebuild, or
        depends on the order trials were told in ways a rewind cannot undo)."""
        return False

    def rewind(self, n: int) -> list[TrialRecord]:
        """Forget the finished trials after the first ``n`` of :attr:`history`, as if they had
        never been told, and return them in the order they were told. Telling them again (with
        :meth:`add_trial`, possibly after others) leaves the optimizer as if it had been told
        the trials in that order from the start: a caller that keeps an optimizer in step with
        a study in trial-number order rewinds when a trial finishes after later-numbered ones
        (parallel workers) instead of replaying the whole study. Pending trials stay pending.
        Only where :attr:`can_rewind`."""
        if not self.can_rewind:
            raise MetaHPOError(f"optimizer {self.name!r} cannot rewind its history; build it "
                               "afresh and tell it the trials in the new order")
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= len(self._history):
            raise MetaHPOError(f"rewind needs 0 <= n <= {len(self._history)} (the history's "
                               f"length), got {n!r}")
        removed = self._history[n:]
        del self._history[n:]
        self._best_read = (0, None)
        self._forget_after(n)
        return removed

    @property
    def seed_plan_length(self) -> int:
        """How many first trials take their configurations from a plan the optimizer draws once
        from its seed (a policy's random initial design); 0 for optimizers without one. Two
        workers that share a seed and cannot see each other's trial would propose the same
        point of such a plan; past it, draws restart from the seed and each trial's number
        (:meth:`restart_draws`), so they differ."""
        return 0

    @property
    def keyword_options(self) -> dict[str, Any]:
        """The keyword options it was made with (by :func:`metahpo.create_optimizer`; empty
        for one built directly), as its state records them."""
        return dict(self._options)

    @property
    def history(self) -> list[TrialRecord]:
        """Finished trials (COMPLETE and FAILED), in the order they were told."""
        return list(self._history)

    @property
    def pending(self) -> list[Trial]:
        """Trials asked for but not yet told."""
        return list(self._pending.values())

    @property
    def directions(self) -> list[str]:
        """The direction of each objective: ``[direction]``, one objective, except for an
        optimizer of several (:class:`~metahpo.optimizers.multi_objective.MultiObjective`),
        which is told one value per objective."""
        return [self.direction]

    @property
    def best(self) -> TrialRecord | None:
        """The best COMPLETE trial so far (the first of equals), or ``None`` (also with
        several objectives, which have a front of best trials instead). Kept from one call to
        the next, so a call reads only the trials told since (a progress bar asks for it after
        every trial)."""
        if len(self.directions) > 1:
            return None
        read, best = self._best_read
        sign = 1.0 if self.direction == "minimize" else -1.0
        for r in self._history[read:]:
            if r.state is TrialState.COMPLETE and (
                    best is None or sign * cast(float, r.value) < sign * cast(float, best.value)):
                best = r
        self._best_read = (len(self._history), best)
        return best

    @property
    def front(self) -> list[TrialRecord]:
        """The COMPLETE trials that no other dominates (the Pareto front of several objectives),
        in the order told; with one objective, the best trial (none before one completed)."""
        if len(self.directions) == 1:
            best = self.best
            return [] if best is None else [best]
        done = [r for r in self._history if r.state is TrialState.COMPLETE]
        losses = as_losses([r.values for r in done], self.directions)
        return [r for r, d in zip(done, dominated(losses)) if not d]

    # state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable state: settings, history, pending trials and the RNG state."""
        return {
            "optimizer": self.reference,
            "space": self.space.to_dict(),
            "direction": self.direction,
            "seed": self.seed,
            "options": dict(self._options),
            "history": [
                {"number": r.number, "params": dict(r.params), "state": r.state.value,
                 "value": r.value if r.values is None else list(r.values), "error": r.error,
                 "last_report": r.last_report, "optimizer_attrs": dict(r.optimizer_attrs)}
                for r in self._history
            ],
            "pending": [{"number": t.number, "params": dict(t.params),
                         "optimizer_attrs": dict(t.optimizer_attrs)}
                        for t in self._pending.values()],
            "next_number": self._next_number,
            "rng": self._rng.bit_generator.state,
            "extra": self._extra_state(),
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        for item in state["history"]:
            trial = Trial(number=item["number"], params=item["params"],
                          optimizer_attrs=item.get("optimizer_attrs") or {})
            report = item.get("last_report")
            self._keep(self._new_record(trial, item["value"], item["error"],
                                        None if report is None else tuple(report)))
        self._pending = {
            p["number"]: Trial(number=p["number"], params=p["params"],
                               optimizer_attrs=p.get("optimizer_attrs") or {})
            for p in state["pending"]
        }
        self._next_number = int(state["next_number"])
        self._rng.bit_generator.state = state["rng"]
        self._load_extra_state(state.get("extra") or {})

    # helpers for subclasses -------------------------------------------------------------------

    def _new_record(self, trial: Trial, value: Any, error: str | None,
                    last_report: tuple[int, float] | None) -> TrialRecord:
        state, v, err = objective_outcome(value, error, len(self.directions))
        return TrialRecord(
            number=trial.number, params=trial.params, state=state,
            value=None if isinstance(v, tuple) else v,
            values=v if isinstance(v, tuple) else None, error=err,
            finished_at=datetime.now(), last_report=last_report,
            optimizer_attrs=trial.optimizer_attrs,
        )

    def _keep(self, record: TrialRecord) -> TrialRecord:
        self._history.append(record)
        self._observe(record)
        return record

    def _loss(self, value: float) -> float:
        """Objective value turned into a loss (lower is better) whatever the direction."""
        return value if self.direction == "minimize" else -value

    def completed_unit(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit-cube points ``(n, dim)`` and losses ``(n,)`` of the COMPLETE trials."""
        done = [r for r in self._history if r.state is TrialState.COMPLETE]
        if not done:
            return np.zeros((0, self.space.dim)), np.zeros(0)
        x = np.stack([self.unit_point(r.number, r.params) for r in done])
        y = np.array([self._loss(cast(float, r.value)) for r in done])
        return x, y

    def pending_unit(self) -> np.ndarray:
        """Unit-cube points of the pending trials, shape ``(k, dim)``."""
        if not self._pending:
            return np.zeros((0, self.space.dim))
        return np.stack([self.unit_point(t.number, t.params) for t in self._pending.values()])

    def unit_point(self, number: int, params: Mapping[str, Any]) -> np.ndarray:
        """Trial ``number``'s unit-cube point ``(dim,)`` (not to be changed in place), encoded
        once per parameters object: optimizers that read every trial per proposal encoded them
        all anew, 90 ms per proposal at 100 trials of 300 parameters, 20 at 2000 of lcbench's 7."""
        kept = self._encodings.get(number)
        if kept is None or kept[0] is not params:
            kept = self._encodings[number] = (params, self.space.encode(params))
        return kept[1]

    @abc.abstractmethod
    def _propose(self) -> dict[str, Any]:
        """Return the parameters of the next trial (validated by ``ask``)."""

    def _discard_proposal(self) -> None:
        """Hook called by ``ask`` when the configuration :meth:`_propose` just returned is
        forbidden and will not become a trial (for an optimizer that keeps state per proposal)."""

    def _proposal_attrs(self) -> dict[str, Any]:
        """Hook called by ``ask`` right after :meth:`_propose`: the ``optimizer_attrs`` of
        the trial it proposed, ``{key: JSON value}`` (none by default)."""
        return {}

    def _checked_attrs(self, attrs: Any) -> dict[str, Any]:
        """``attrs`` from :meth:`_proposal_attrs` if a study can store them (string keys,
        JSON values); a clear error naming the optimizer otherwise."""
        if not isinstance(attrs, Mapping):
            raise MetaHPOError(f"optimizer {self.reference!r}: _proposal_attrs() must return a "
                               f"dict {{key: JSON value}}, got {type(attrs).__name__}")
        for key, value in attrs.items():
            try:
                if not isinstance(key, str):
                    raise TypeError(f"its key is a {type(key).__name__}")
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise MetaHPOError(f"optimizer {self.reference!r}: optimizer_attrs[{key!r}] "
                                   f"cannot be stored with a trial ({exc}); keep str keys and "
                                   "JSON values (lists, not arrays; float, not numpy.float32)"
                                   ) from None
        return dict(attrs)

    def _observe(self, record: TrialRecord) -> None:
        """Hook called once per finished trial (told or added), in order."""

    def _forget_after(self, n: int) -> None:
        """Hook of :meth:`rewind`: drop what :meth:`_observe` kept of the trials after the
        first ``n``."""

    def _pending_added(self, trial: Trial) -> None:
        """Hook called for a pending trial recorded by :meth:`add_pending` (not by ``ask``)."""

    def _withdrawn(self, trial: Trial) -> None:
        """Hook called for a pending trial :meth:`withdraw` forgot."""

    def _extra_state(self) -> dict[str, Any]:
        """State not rebuilt by replaying the history (JSON-serializable)."""
        return {}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        """Inverse of :meth:`_extra_state`."""
