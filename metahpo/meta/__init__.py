"""Meta-training of the LSTM policy: task distributions, rollouts, the REINFORCE estimator and
the outer training loop. Each part is swappable alone: the policy knows nothing about tasks, the
estimator nothing about where tasks come from."""
