"""The dashboard's test app fixture, for the LDV pages."""

from tests.dashboard.conftest import env  # noqa: F401  (a fixture)
