"""Replica suite: reuses the end-to-end helpers and fixtures from tests/e2e."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

from txvfixtures import *  # noqa: E402,F401,F403
