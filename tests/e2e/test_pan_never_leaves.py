"""Section 2: card numbers never leave the process.

Sends many distinct PANs through every path (approve, decline, validation errors,
batches, conflicts, malformed bodies, wrong content types, oversized bodies), then
searches the SQLite files, the server's stdout/stderr, /metrics and every response
body and header for each PAN.
"""

from __future__ import annotations

import json

import pytest

from txvtest import card, make_pan, sample_txn, scaled, unique_id


def leaks(blob: bytes, pans: list[str]) -> list[str]:
    return [p for p in pans if p.encode() in blob]


@pytest.fixture(scope="module")
def pan_server(txv_bin, tmp_path_factory):
    from txvtest import TxvServer
    # Debug logging: the most verbose the server can be must still be PAN-free.
    srv = TxvServer(tmp_path_factory.mktemp("pan"), record_bodies=True, extra_args=["--log-level", "debug"])
    srv.start()
    yield srv
    if srv.running():
        srv.stop()


def test_pans_never_leave(pan_server):
    srv = pan_server
    pans: list[str] = []

    def new(prefix="4", length=16, valid=True):
        p = make_pan(prefix, length, valid)
        pans.append(p)
        return p

    # Positive controls: values that ARE stored/logged/returned, to prove the searches below can
    # find a needle at all (a canary in metadata, in the request id and in the transaction id).
    canary_meta = "canarymeta" + unique_id().replace("-", "")
    canary_rid = "canaryrid" + unique_id().replace("-", "")
    canary_tid = "canarytid" + unique_id().replace("-", "")
    assert srv.validate(sample_txn(transaction_id=canary_tid, metadata={"c": canary_meta}),
                        headers={"X-Request-Id": canary_rid}).status == 200

    n = scaled(20, 8)
    # Approved, for several brands and lengths.
    for prefix, length in [("4", 16), ("4", 13), ("4", 19), ("51", 16), ("2221", 16), ("37", 15), ("6011", 16),
                           ("3528", 16), ("36", 14), ("6200", 16), ("6759", 16)] * max(1, n // 10):
        assert srv.validate(sample_txn(card=card(new(prefix, length)))).status == 200
    # Declined: bad Luhn, expired, unknown range, wrong length.
    for _ in range(n):
        assert srv.validate(sample_txn(card=card(new(valid=False)))).status == 200
        assert srv.validate(sample_txn(card=card(new(), 1, 2020))).status == 200
        assert srv.validate(sample_txn(card=card(new("9", 16)))).status == 200
        assert srv.validate(sample_txn(card=card(new("4", 15)))).status == 200
    # Validation errors while a PAN is present (another field wrong; or the PAN itself wrong).
    for _ in range(n):
        assert srv.validate(sample_txn(card=card(new()), amount=-1)).status == 422
        assert srv.validate(sample_txn(card=card(new(), 13, 2030), currency="ZZZ")).status == 422
        assert srv.validate(sample_txn(card={"number": new(), "expiry_month": 1, "expiry_year": 2030,
                                             "token": "t"})).status == 422
        assert srv.validate(sample_txn(card=dict(card(new()), cvv="123"))).status == 422
    # The PAN as a JSON number, with separators, too long, with letters: invalid, never echoed.
    p = new()
    assert srv.validate(sample_txn(card={"number": int(p), "expiry_month": 1, "expiry_year": 2030})).status == 422
    p = new()
    assert srv.validate(sample_txn(card=card(p[:4] + " " + p[4:8] + " " + p[8:12] + " " + p[12:]))).status == 422
    p = new("4", 19)
    assert srv.validate(sample_txn(card=card(p + "0"))).status == 422
    p = new()
    assert srv.validate(sample_txn(card=card(p + "x"))).status == 422
    # A PAN as an unknown key (it is echoed as a field path otherwise).
    p = new()
    body = sample_txn()
    body["card"][p] = "1"
    assert srv.validate(body).status == 422
    p = new()
    body = sample_txn()
    body[p] = True
    assert srv.validate(body).status == 422
    # Batches with good, declined and invalid items.
    items = []
    for _ in range(n):
        items.append(sample_txn(card=card(new())))
        items.append(sample_txn(card=card(new(valid=False))))
        items.append(sample_txn(card=card(new()), amount=0))
        items.append(sample_txn(card=card(new()), foo=1))
    r = srv.validate_batch(items)
    assert r.status == 200, r
    # Replays and idempotency conflicts with a different PAN.
    for _ in range(n):
        first = sample_txn(card=card(new()))
        assert srv.validate(first).status == 200
        assert srv.validate(first).status == 200
        conflict = dict(first, card=card(new()))
        assert srv.validate(conflict).status == 409
    # Malformed JSON, wrong content type and oversized bodies that contain a PAN.
    p = new()
    assert srv.request("POST", "/v1/transactions/validate",
                       raw=b'{"card": {"number": "' + p.encode() + b'", ', key="admin").status == 400
    p = new()
    assert srv.request("POST", "/v1/transactions/validate", raw=json.dumps(sample_txn(card=card(p))).encode(),
                       key="admin", headers={"Content-Type": "text/plain"}).status == 415
    p = new()
    big = json.dumps(sample_txn(card=card(p), metadata={"pad": "x" * 400})).encode()
    big = big[:-1] + b" " * (70 * 1024) + b"}"
    assert srv.post_oversized("/v1/transactions/validate", big).status == 413
    # Unauthenticated and forbidden requests carrying a PAN.
    p = new()
    assert srv.validate(sample_txn(card=card(p)), key=None).status == 401
    p = new()
    assert srv.validate(sample_txn(card=card(p)), key="analyst").status == 403
    p = new()
    assert srv.validate(sample_txn(card=card(p), merchant_id="m-x"), key="scoped").status == 403
    # A PAN in the transaction id of a lookup is not a card number field; not checked.

    # Reads: every stored record, through GET and list.
    for it in srv.list_all():
        assert srv.get_txn(it["merchant_id"], it["transaction_id"]).status == 200

    metrics = srv.request("GET", "/metrics").body
    assert len(set(pans)) == len(pans)
    assert not leaks(metrics, pans), "PAN in /metrics"

    responses = b"\n".join(srv.recorded)
    assert canary_tid.encode() in responses and canary_rid.encode() in responses
    assert not leaks(responses, pans), f"PAN in a response: {leaks(responses, pans)[:3]}"

    # Stop the server so every pending write reaches the files, then search them.
    srv.stop()
    files = srv.db_files() + sorted(srv.data_dir.iterdir())
    assert any(canary_meta.encode() in f.read_bytes() for f in srv.db_files()), "search cannot see stored data"
    for f in set(files):
        if f.is_file():
            found = leaks(f.read_bytes(), pans)
            assert not found, f"PAN in {f.name}: {found[:3]}"
    logs = srv.all_logs()
    assert logs, "no logs captured"
    assert canary_rid.encode() in logs, "search cannot see the logs"
    found = leaks(logs, pans)
    assert not found, f"PAN in the logs: {found[:3]}"
