"""Advisories against the inventory: what the municipality runs, and which CSAF advisories hit it.

Public functions live in `advisories.service`; the dashboard and the CLI import only that.
"""
