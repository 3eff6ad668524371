"""Reports from benchmark results: normalized regret, ranks, ask times, tables and plots."""
