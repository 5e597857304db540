"""The real headless Chromium of the end-to-end tests, for the SDK's browser tests."""

from tests.e2e.conftest import browser

__all__ = ["browser"]
