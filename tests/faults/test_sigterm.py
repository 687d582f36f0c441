"""Section 8: graceful shutdown on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import threading

from txvtest import SANITIZED, connection_refused, parse_raw_response, poll, sample_txn, unique_merchant

DRAIN = "3s" if SANITIZED else "2s"
GRACE = "10s"
GRACE_SECONDS = 10


def start_partial_request(srv, body: dict) -> tuple[socket.socket, bytes]:
    """Opens a connection and sends a POST validate with only half its body; returns the rest."""
    payload = json.dumps(body).encode()
    head = (f"POST /v1/transactions/validate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {srv.keys['admin']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    half = len(payload) // 2
    s.sendall(head + payload[:half])
    return s, payload[half:]


def finish_partial_request(s: socket.socket, rest: bytes):
    s.sendall(rest)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            r = parse_raw_response(data)
            length = int(r.header("content-length") or 0)
            if len(data.partition(b"\r\n\r\n")[2]) >= length:
                break
    s.close()
    return parse_raw_response(data)


def readyz_503(srv):
    r = srv.request("GET", "/readyz", fresh=True, timeout=5)
    return r if r.status == 503 else None


def test_sigterm_drains_then_exits_0(make_server):
    srv = make_server(drain_delay=DRAIN, grace_period=GRACE)
    m = unique_merchant("term")
    before = sample_txn(merchant_id=m)
    srv.validate_ok(before)
    assert srv.request("GET", "/readyz").status == 200

    in_flight = sample_txn(merchant_id=m)
    sock, rest = start_partial_request(srv, in_flight)

    srv.signal(signal.SIGTERM)

    # /readyz turns 503 at once (polled, not timed).
    r = poll(lambda: readyz_503(srv), 5, interval=0.01, what="/readyz 503 after SIGTERM")
    doc = r.json
    assert doc.get("status") == "unavailable", doc
    assert set(doc.get("checks", {})) >= {"database", "cache"}, doc

    # During the drain: new connections still work, liveness holds, decisions are still made.
    assert srv.request("GET", "/livez", fresh=True).status == 200
    during = sample_txn(merchant_id=m)
    r = srv.request("POST", "/v1/transactions/validate", during, key="admin", fresh=True)
    assert r.status == 200, r
    assert srv.request("GET", "/readyz", fresh=True).status == 503

    # The request that was in progress when SIGTERM arrived completes with 200.
    resp = finish_partial_request(sock, rest)
    assert resp.status == 200, resp
    assert resp.json["transaction_id"] == in_flight["transaction_id"]

    # After the drain the listener is closed.
    poll(lambda: connection_refused(srv.port), GRACE_SECONDS + 5, interval=0.05,
         what="new connections refused after the drain")
    rc = srv.wait(timeout=GRACE_SECONDS + 15)
    assert rc == 0, srv.stderr_tail()
    srv.check_sanitizer_reports()

    # Everything answered with 200 was committed.
    srv.start()
    for b in (before, during, in_flight):
        r = srv.get_txn(m, b["transaction_id"])
        assert r.status == 200, (b["transaction_id"], r)
    srv.stop()


def test_request_still_uploading_at_end_of_drain_completes(make_server):
    """A request whose headers arrived before SIGTERM is in flight; it finishes even if its body
    arrives after the drain delay, within the grace period."""
    srv = make_server(drain_delay="1s", grace_period=GRACE)
    m = unique_merchant("slow")
    body = sample_txn(merchant_id=m)
    sock, rest = start_partial_request(srv, body)
    assert srv.request("GET", "/livez", fresh=True).status == 200
    srv.signal(signal.SIGTERM)
    poll(lambda: connection_refused(srv.port), GRACE_SECONDS, interval=0.05, what="end of the drain")
    try:
        resp = finish_partial_request(sock, rest)
    except (OSError, AssertionError) as e:  # reset, or closed without an answer
        resp = e
    rc = srv.wait(timeout=GRACE_SECONDS + 15)
    assert not isinstance(resp, Exception), (
        f"a request whose headers and half its body arrived before SIGTERM was cut off when the drain "
        f"ended ({resp!r}); txv exit code {rc}")
    assert resp.status == 200, resp
    assert rc == 0
    srv.start()
    assert srv.get_txn(m, body["transaction_id"]).status == 200
    srv.stop()


def test_busy_batch_in_flight_finishes(make_server):
    """A long batch being processed when SIGTERM arrives still gets its 200, and all of it is stored."""
    srv = make_server(drain_delay="0s", grace_period=GRACE)
    m = unique_merchant("batch")
    items = [{"transaction_id": f"b{i}", "merchant_id": m, "amount": 1, "currency": "USD", "card": {"token": "t"}}
             for i in range(500)]
    result = {}

    def send():
        try:
            result["r"] = srv.request("POST", "/v1/transactions/validate-batch", {"transactions": items},
                                      key="admin", fresh=True, timeout=60)
        except Exception as e:  # noqa: BLE001
            result["r"] = e

    t = threading.Thread(target=send)
    t.start()
    # Signal once the batch is being decided (the counter moved) - or at once if it is very fast.
    def started():
        if not t.is_alive():
            return True
        return srv.metric("txv_decisions_total") > 0
    poll(started, 30, interval=0.005, what="batch in progress")
    srv.signal(signal.SIGTERM)
    t.join(timeout=GRACE_SECONDS + 30)
    rc = srv.wait(timeout=GRACE_SECONDS + 15)
    r = result["r"]
    assert not isinstance(r, Exception), f"batch in flight was cut off: {r!r}"
    assert r.status == 200, r
    assert len(r.json["results"]) == 500
    assert rc == 0
    srv.start()
    assert len(srv.list_all(merchant_id=m)) == 500
    srv.stop()


def test_sigterm_idle_server_exits_0_and_logs(make_server):
    srv = make_server(drain_delay="0s", grace_period="5s")
    srv.validate_ok(sample_txn())
    srv.stop(expect_exit=0)
    lines = [json.loads(ln) for ln in srv.stderr_path.read_bytes().splitlines() if ln.strip().startswith(b"{")]
    assert lines, "no JSON log lines"
    assert all("level" in ln and ("msg" in ln or "message" in ln) for ln in lines)
