"""Benchmarks of Timpora Map: one script per feature, and ``python -m bench`` to run them all."""
