"""The client's tests run against the platform API's test server and share its
signing helpers and fixtures (``tests/platforms/conftest.py``)."""

from tests.platforms.conftest import fresh_rate_window

__all__ = ["fresh_rate_window"]
