"""Section 3: every decision a client received survives `kill -9`.

Fires validate requests from many threads, SIGKILLs the server partway, restarts it
on the same data directory and reads back every transaction that got a 200.
"""

from __future__ import annotations

import concurrent.futures as cf
import http.client
import threading

from txvtest import SANITIZED, card, make_pan, poll, sample_txn, scaled, unique_merchant


def test_acknowledged_decisions_survive_kill9(make_server):
    srv = make_server()
    total = scaled(2000, 400)
    kill_after = scaled(1000, 200)
    n_threads = scaled(16, 8)
    m = unique_merchant("k9")

    bodies = []
    for i in range(total):
        if i % 5 == 0:
            c = card(make_pan("4", valid=False))          # decline: invalid_card_number
        elif i % 7 == 0:
            c = card(make_pan("5"), 1, 2020)              # decline: card_expired
        else:
            c = card(make_pan("4"))
        bodies.append(sample_txn(merchant_id=m, transaction_id=f"k{i:05d}", card=c))

    acked: dict[str, dict] = {}
    failed: set[str] = set()
    lock = threading.Lock()
    next_index = iter(range(total))
    index_lock = threading.Lock()
    unexpected: list = []

    def worker():
        while True:
            with index_lock:
                i = next(next_index, None)
            if i is None:
                return
            b = bodies[i]
            try:
                r = srv.validate(b, timeout=30)
            except (OSError, http.client.HTTPException):
                with lock:
                    failed.add(b["transaction_id"])
                continue  # keep going: the rest fail fast with "connection refused"
            if r.status == 200:
                with lock:
                    acked[b["transaction_id"]] = r.json
            else:
                with lock:
                    unexpected.append(r)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(n_threads)]
    for t in threads:
        t.start()
    poll(lambda: len(acked) >= kill_after or not any(t.is_alive() for t in threads), 120, interval=0.002,
         what=f"{kill_after} acknowledged decisions")
    srv.kill9()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not unexpected, unexpected[:3]
    assert len(acked) >= kill_after
    assert len(acked) < total, "the kill came after every request had finished; the test proved nothing"
    assert srv.proc.returncode == -9

    srv.start()
    pending = list(acked.items())

    def check(item):
        tid, decision = item
        r = srv.get_txn(m, tid)
        return tid, decision, r

    mismatches = []
    with cf.ThreadPoolExecutor(8) as ex:
        for tid, decision, r in ex.map(check, pending):
            if r.status != 200:
                mismatches.append((tid, r.status))
                continue
            rec = r.json
            for k in ("decision", "reasons", "card", "rules_version", "decided_at"):
                if rec[k] != decision[k]:
                    mismatches.append((tid, k, decision[k], rec[k]))
    assert not mismatches, f"{len(mismatches)} acknowledged decisions lost or changed: {mismatches[:5]}"

    # Requests without an answer either committed or did not; never a half-written record.
    for tid in sorted(failed)[:200]:
        r = srv.get_txn(m, tid)
        assert r.status in (200, 404), r

    # Idempotency survives the crash: replays answer the stored decision.
    by_id = {b["transaction_id"]: b for b in bodies}
    for tid, decision in pending[:: max(1, len(pending) // 50)]:
        r = srv.validate(by_id[tid])
        assert r.status == 200, r
        assert r.json["replayed"] is True
        assert r.json["decision"] == decision["decision"]
        assert r.json["decided_at"] == decision["decided_at"]

    # The generated PAN key survived too: the same card has the same fingerprint.
    tid, decision = pending[0]
    same = srv.validate_ok(sample_txn(merchant_id=m, card=by_id[tid]["card"]))
    assert same["card"]["fingerprint"] == decision["card"]["fingerprint"]

    stored = srv.list_all(merchant_id=m)
    ids = [it["transaction_id"] for it in stored]
    assert len(ids) == len(set(ids))
    assert set(acked) <= set(ids)
    srv.stop()


def test_kill9_during_idle_then_restart(make_server):
    """A crash with nothing in flight loses nothing and the server starts again at once."""
    srv = make_server()
    bodies = [sample_txn() for _ in range(scaled(20, 5))]
    decided = [srv.validate_ok(b) for b in bodies]
    srv.kill9()
    srv.start()
    for b, d in zip(bodies, decided):
        r = srv.get_txn(b["merchant_id"], b["transaction_id"])
        assert r.status == 200 and r.json["decided_at"] == d["decided_at"]
    # API keys survived as well (the keys were created before the first start).
    assert srv.list_txns(key="analyst").status == 200
    srv.stop()
