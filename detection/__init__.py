"""detection domain."""
