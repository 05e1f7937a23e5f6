"""The kernel every domain stands on; imports no domain package."""
