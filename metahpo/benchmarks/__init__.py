"""Benchmark suites and their runner: optimizer x task x seed, resumable and parallel."""
