"""The smoke suite: run by `sage eval smoke`, against a real model at SAGE_SMOKE_HOST."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def host() -> str:
    value = os.environ.get("SAGE_SMOKE_HOST")
    if not value:
        pytest.fail("Run these through `sage eval smoke` (it starts or finds a model and sets "
                    "SAGE_SMOKE_HOST).")
    return value
