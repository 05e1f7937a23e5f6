"""Compliance: BIO2 measures with live evidence from the platform (issue #25)."""
