"""drills domain."""
