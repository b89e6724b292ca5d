"""Benchmarks behind ``rnnlab bench NAME``: one module per benchmark, each with ``main``."""
