"""Random Chebyshev scalarization: what makes one loss of several objectives usable."""

import numpy as np
import pytest

from metahpo.scalarization import as_losses, chebyshev_losses, draw_weights


def test_the_middle_of_a_concave_front_is_reachable():
    """A weighted sum prefers an end of this front for every weight; Chebyshev does not."""
    front = np.array([[0.0, 1.0], [1.0, 0.0], [0.6, 0.6]])
    weights = np.array([0.5, 0.5])
    assert (front @ weights).argmin() != 2
    assert chebyshev_losses(front, weights).argmin() == 2


def test_losses_do_not_depend_on_units_or_direction():
    rng = np.random.default_rng(0)
    values = rng.uniform(size=(20, 2))
    weights = draw_weights(2, rng)
    base = chebyshev_losses(values, weights)
    in_other_units = values * np.array([1.0, 3600.0]) + np.array([0.0, 50.0])
    np.testing.assert_allclose(chebyshev_losses(in_other_units, weights), base)
    maximized = values * np.array([-100.0, 1.0])
    np.testing.assert_allclose(chebyshev_losses(as_losses(maximized, ["maximize", "minimize"]), weights), base)


def test_an_objective_all_trials_agree_on_adds_nothing():
    values = np.array([[0.2, 5.0], [0.8, 5.0], [0.5, 5.0]])
    np.testing.assert_allclose(chebyshev_losses(as_losses(values, ["minimize", "maximize"]),
                                                np.array([0.5, 0.5])),
                               [0.0, 0.525, 0.2625])
    assert chebyshev_losses(np.zeros((0, 2)), np.array([0.5, 0.5])).shape == (0,)


def test_weights_lie_on_the_simplex_and_shapes_are_checked():
    weights = np.array([draw_weights(3, np.random.default_rng(s)) for s in range(200)])
    assert (weights > 0).all() and np.allclose(weights.sum(axis=1), 1.0)
    assert np.all(np.abs(weights.mean(axis=0) - 1 / 3) < 0.06)  # 3.6 standard errors; fixed seeds
    with pytest.raises(ValueError, match="at least two objectives"):
        draw_weights(1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="disagree"):
        chebyshev_losses(np.zeros((3, 2)), np.ones(3) / 3)
