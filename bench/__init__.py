"""Benchmarks run as scripts (`.venv/bin/python bench/NAME.py`); a package so mypy names them bench.*."""
