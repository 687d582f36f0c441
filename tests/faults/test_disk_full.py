"""Writes refused (a full disk): embedded txv answers 503 for every write, loses
nothing it acknowledged, and /readyz follows the last writes (503 while they
fail, 200 again once one succeeds, even with no traffic in between).

The data directory is a 3 MB tmpfs mounted for the test (needs root, as in CI).
"""

from __future__ import annotations

import os
import subprocess

import pytest

import txvtest
from txvtest import card, make_pan, poll, sample_txn, unique_id

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path, chunk=64 * 1024):
    """Writes zeros until the file system is full."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * chunk)
                f.flush()
        except OSError:
            pass


def test_full_disk_refuses_writes_keeps_acknowledged_and_readiness_follows(make_server, small_disk):
    srv = make_server(start=False)
    srv.data_dir = small_disk
    srv.db_path = small_disk / "txv.db"
    srv.database_url = f"sqlite:{srv.db_path}"
    srv.create_standard_keys()
    srv.start()

    acknowledged = {}
    for _ in range(20):
        body = sample_txn(transaction_id=unique_id(), card=card(make_pan()))
        r = srv.validate(body)
        assert r.status == 200, r
        acknowledged[body["transaction_id"]] = (body["merchant_id"], r.json)
    ready = srv.request("GET", "/readyz", key=None)
    assert ready.status == 200 and ready.json["checks"]["writes"] == "ok", ready

    filler = small_disk / "filler"
    fill(filler)
    refused = 0
    for _ in range(40):
        body = sample_txn(transaction_id=unique_id(), card=card(make_pan()))
        r = srv.validate(body)
        assert r.status in (200, 503), r
        if r.status == 200:
            acknowledged[body["transaction_id"]] = (body["merchant_id"], r.json)
        else:
            txvtest.assert_error(r, 503, "unavailable")
            refused += 1
    assert refused > 0, "a full disk never refused a write"

    not_ready = srv.request("GET", "/readyz", key=None)
    assert not_ready.status == 503, not_ready
    assert not_ready.json["checks"]["writes"] == "failing"
    assert srv.request("GET", "/livez", key=None).status == 200

    # Space comes back; no decision is sent: the probe alone turns readiness back.
    filler.unlink()
    poll(lambda: srv.request("GET", "/readyz", key=None).status == 200, 30, what="/readyz 200 after space returned")
    body = sample_txn(transaction_id=unique_id(), card=card(make_pan()))
    r = srv.validate(body)
    assert r.status == 200, r
    acknowledged[body["transaction_id"]] = (body["merchant_id"], r.json)

    # Nothing acknowledged was lost, across a restart too.
    srv.stop(expect_exit=0)
    srv.start()
    for tid, (merchant, decided) in acknowledged.items():
        got = srv.get_txn(merchant, tid)
        assert got.status == 200, (tid, got)
        assert got.json["decision"] == decided["decision"]
