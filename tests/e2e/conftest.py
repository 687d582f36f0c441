"""End-to-end suite: starts the real txv binary (TXV_BIN) and talks HTTP to it.

Helpers: txvtest.py (TxvServer, sample_txn, make_pan, assert_error, metrics parsing).
Fixtures: txvfixtures.py (server, make_server, txv_bin).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from txvfixtures import *  # noqa: E402,F401,F403
