"""Benchmarks: speed and memory targets, each printed against a baseline measured in the same run."""
