"""Benchmarks: `make bench` writes bench-results/results.json and results.md."""
