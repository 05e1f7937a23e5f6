"""collectors domain."""
