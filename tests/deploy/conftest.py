"""The series a real service exports, scraped once for the dashboard's and the rules' tests."""

from __future__ import annotations

import pytest

from tests.deploy.exported import Exported, exported_series


@pytest.fixture(scope="session")
def exported() -> Exported:
    return exported_series()
