"""Every test starts with the same logging: JSON lines at DEBUG to the current stdout.

Commands under test reconfigure logging (the CLI's console renderer at WARNING, handlers at
ACRSYNC_LOG_LEVEL); without this, what one test configured would filter what the next one captures.
"""

from __future__ import annotations

import pytest

from acrsync.logging import configure


@pytest.fixture(autouse=True)
def _fresh_logging() -> None:
    configure(level="DEBUG")
