"""awareness domain."""
