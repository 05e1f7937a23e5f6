"""playbooks domain."""
