"""The command line and the `up` supervisor."""

__version__ = "0.1.0"
