"""Benchmarks, run as scripts (`.venv/bin/python bench/NAME.py`).

A package only so mypy names the modules bench.*.
"""
