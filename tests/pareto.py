"""Two-objective helpers shared by the tests of several objectives (Optuna sampler, tune)."""


def zdt1(x0, x1, x2):
    """ZDT1 in three dimensions: the Pareto front is x0 in [0, 1] with x1 = x2 = 0, concave
    (f2 = 1 - sqrt(f1)), so a weighted sum of the objectives would reach only its two ends."""
    g = 1.0 + 4.5 * (x1 + x2)
    return x0, g * (1.0 - (x0 / g) ** 0.5)


def hypervolume(values, reference=(1.0, 10.0)):
    """Area dominated by two-objective ``values`` (both minimized) within ``reference``."""
    area, lowest = 0.0, reference[1]
    for f1, f2 in sorted(v for v in values if v[0] < reference[0] and v[1] < reference[1]):
        if f2 < lowest:
            area, lowest = area + (reference[0] - f1) * (lowest - f2), f2
    return area
