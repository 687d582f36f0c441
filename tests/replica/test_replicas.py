"""Several `txv serve` replicas over one PostgreSQL and one Redis behave as one
service (contract section 1; issue 9). Run with TXV_E2E_BACKEND=replica and
the servers of scripts/test-servers.sh; `make test` does.
"""

from __future__ import annotations

import os
import signal as sig
import subprocess
import threading
import time


import txvtest
from txvtest import assert_error, card, make_pan, poll, sample_txn, unique_id, unique_merchant, THREE_PER_HOUR_CARD_RULE as VELOCITY_RULE

def fire_together(calls):
    """Runs the callables at the same instant (a barrier), returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    errors = []

    def run(i, fn):
        try:
            barrier.wait(timeout=30)
            results[i] = fn()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_velocity_is_exact_across_three_replicas(make_cluster):
    replicas = make_cluster(3)
    r = replicas[0].create_rule(VELOCITY_RULE)
    assert r.status == 201, r
    # Every replica decides with the rule before the rounds start.
    for srv in replicas:
        poll(lambda srv=srv: srv.request("GET", "/v1/rules", key="admin").json["rules_version"] ==
             replicas[0].request("GET", "/v1/rules", key="admin").json["rules_version"], 10)
    rounds = txvtest.scaled(5, 2)
    for round_no in range(rounds):
        pan = make_pan()
        merchant = unique_merchant()
        calls = []
        for i in range(48):
            srv = replicas[i % 3]
            body = sample_txn(merchant_id=merchant, card=card(pan))
            calls.append(lambda srv=srv, body=body: srv.validate(body))
        results = fire_together(calls)
        assert all(r.status == 200 for r in results), [r for r in results if r.status != 200][:3]
        approvals = sum(1 for r in results if r.json["decision"] == "approve")
        assert approvals == 3, f"round {round_no}: {approvals} approvals, expected exactly 3"


def test_idempotency_across_replicas_one_decision_two_replays(make_cluster):
    replicas = make_cluster(3)
    for _ in range(txvtest.scaled(10, 3)):
        body = sample_txn(transaction_id=unique_id(), card=card(make_pan()))
        results = fire_together([lambda srv=srv: srv.validate(body) for srv in replicas])
        assert all(r.status == 200 for r in results), results
        fresh = [r for r in results if r.json["replayed"] is False]
        assert len(fresh) == 1, [r.json for r in results]
        decided = {k: v for k, v in fresh[0].json.items() if k != "replayed"}
        for r in results:
            assert {k: v for k, v in r.json.items() if k != "replayed"} == decided
        # The same key with a different body: 409 on every replica.
        changed = dict(body, amount=body["amount"] + 1)
        for srv in replicas:
            assert_error(srv.validate(changed), 409, "idempotency_conflict")
    # A replay changed no counter: every replica's stored record is the one decision.
    for srv in replicas:
        got = srv.get_txn(body["merchant_id"], body["transaction_id"])
        assert got.status == 200 and got.json["decision"] == decided["decision"]


def test_rule_and_list_changes_reach_every_replica(make_cluster):
    replicas = make_cluster(3)
    a, b, c = replicas
    merchant = unique_merchant()
    rule = {"name": "blocked merchants", "expression": "merchant_id in list('blocked_merchants')",
            "action": "decline", "code": "merchant_blocked", "priority": 1, "mode": "enforce"}
    assert a.create_rule(rule).status == 201
    assert b.put_list("blocked_merchants", [merchant]).status == 200

    def declined_everywhere():
        return all(srv.validate_ok(sample_txn(merchant_id=merchant, card=card(make_pan())))["decision"] == "decline"
                   for srv in replicas)

    poll(declined_everywhere, 10, interval=0.05, what="a rule made on one replica and a list on another to apply")
    # Removing the entry through the third replica frees the merchant everywhere.
    r = c.request("DELETE", f"/v1/lists/blocked_merchants/entries/{merchant}", key="admin")
    assert r.status == 200, r

    def approved_everywhere():
        return all(srv.validate_ok(sample_txn(merchant_id=merchant, card=card(make_pan())))["decision"] == "approve"
                   for srv in replicas)

    poll(approved_everywhere, 10, interval=0.05, what="the list change to reach every replica")


def test_rate_limit_is_shared_by_the_replicas(make_cluster):
    rate = 20
    replicas = make_cluster(3, env={"TXV_RATE_LIMIT": str(rate)})
    allowed = 0
    limited = 0
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < 1.5:
        r = replicas[i % 3].request("GET", "/v1/rules", key="admin")
        i += 1
        if r.status == 200:
            allowed += 1
        else:
            assert_error(r, 429, "rate_limited")
            assert int(r.header("Retry-After")) >= 1
            limited += 1
    elapsed = time.monotonic() - start
    # One budget for all replicas: the burst (2 x rate) plus what refilled meanwhile (with slack for the clock),
    # far below three separate budgets (3 x that).
    assert limited > 0, f"{allowed} allowed, none limited in {i} requests"
    assert allowed <= 2 * rate + rate * (elapsed + 1.0), f"{allowed} allowed over {elapsed:.2f}s at {rate}/s"


def test_kill9_of_one_replica_loses_no_acknowledged_decision(make_cluster):
    replicas = make_cluster(3)
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(k):
        n = 0
        while not stop.is_set():
            srv = replicas[(k + n) % 3]
            n += 1
            body = sample_txn(transaction_id=unique_id(), card=card(make_pan()))
            try:
                r = srv.validate(body, timeout=10)
            except OSError:
                continue
            if r.status == 200:
                with lock:
                    acknowledged.append((body["merchant_id"], body["transaction_id"], r.json))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    poll(lambda: len(acknowledged) >= 150, 60, what="decisions before the kill")
    replicas[0].kill9()
    count_at_kill = len(acknowledged)
    poll(lambda: len(acknowledged) >= count_at_kill + 100, 60, what="decisions after the kill")
    stop.set()
    for t in threads:
        t.join(timeout=60)
    for merchant, tid, decided in acknowledged:
        one = replicas[1].get_txn(merchant, tid)
        two = replicas[2].get_txn(merchant, tid)
        assert one.status == 200 and two.status == 200, (tid, one, two)
        assert one.body == two.body, tid
        assert one.json["decision"] == decided["decision"]
        assert one.json["decided_at"] == decided["decided_at"]


def test_replicas_started_together_migrate_once(make_cluster):
    replicas = make_cluster(3)
    rows = replicas[0].replica.sql("SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version")
    versions = [line.split("|") for line in rows.strip().splitlines()]
    assert versions, "no migrations recorded"
    assert all(count == "1" for _, count in versions), versions


def test_start_with_an_unreachable_database_exits_2_with_one_line(txv_bin, tmp_path):
    env = txvtest.clean_env({"TXV_DATABASE_URL": "postgres://txv@127.0.0.1:1/txv?connect_timeout=1",
                             "TXV_PAN_KEY": "ab" * 32})
    cp = subprocess.run([txv_bin, "serve", "--listen", f"127.0.0.1:{txvtest.free_port()}"], env=env,
                        capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert cp.returncode == 2, cp
    lines = [line for line in cp.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, cp.stderr
    assert "TXV_DATABASE_URL" in lines[0]


# ---------------------------------------------------------------- faults


def redis_pid() -> int:
    with open(os.environ["TXV_TEST_REDIS_PID_FILE"]) as f:
        return int(f.read().strip())


def restart_redis() -> None:
    conf = os.environ["TXV_TEST_REDIS_CONF"]
    cmd = ["redis-server", conf]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, timeout=30)
    poll(lambda: txvtest.redis_command(os.environ["TXV_TEST_REDIS_URL"], "PING") == "PONG", 30,
         what="redis to answer again")


def cache_state(srv) -> tuple[str, float]:
    ready = srv.request("GET", "/readyz", key=None)
    return ready.json["checks"]["cache"], srv.metric("txv_cache_degraded")


def shadow_codes(decided: dict) -> set[str]:
    return {m["code"] for m in decided["shadow_matches"]}


class Load:
    """Background validates over the replicas, recording every status."""

    def __init__(self, replicas, threads=3):
        self.replicas = replicas
        self.statuses: list[int] = []
        self.acknowledged: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(threads)]

    def run(self, k):
        n = 0
        while not self.stop_flag.is_set():
            srv = self.replicas[(k + n) % len(self.replicas)]
            n += 1
            body = sample_txn(transaction_id=unique_id(), card=card(make_pan()))
            r = srv.validate(body)
            with self.lock:
                self.statuses.append(r.status)
                if r.status == 200:
                    self.acknowledged.append((body["merchant_id"], body["transaction_id"]))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=60)


def test_redis_outage_keeps_deciding_and_counts_are_made_whole(make_cluster):
    replicas = make_cluster(3)
    for threshold in (10, 11, 3, 4):
        rule = {"name": f"card count {threshold}", "expression": f"velocity('card', '1h').count >= {threshold}",
                "action": "review", "code": f"card_count_{threshold}", "priority": threshold, "mode": "shadow"}
        assert replicas[0].create_rule(rule).status == 201
    version = replicas[0].request("GET", "/v1/rules", key="admin").json["rules_version"]
    for srv in replicas:
        poll(lambda srv=srv: srv.request("GET", "/v1/rules", key="admin").json["rules_version"] == version, 10)

    pan_x = make_pan()
    for i in range(5):
        assert replicas[i % 3].validate(sample_txn(card=card(pan_x))).status == 200

    pid = redis_pid()
    try:
        with Load(replicas) as load:
            # 1. Redis hangs (SIGSTOP): every call meets its deadline; decisions go on from PostgreSQL.
            os.kill(pid, sig.SIGSTOP)
            for i in range(5):
                r = replicas[i % 3].validate(sample_txn(card=card(pan_x)))
                assert r.status == 200, r
            poll(lambda: all(cache_state(srv) == ("degraded", 1.0) for srv in replicas), 30,
                 what="every replica to report the cache degraded")
            # Idempotency stays exact without Redis: one decision, two replays.
            body = sample_txn(transaction_id=unique_id(), card=card(make_pan()))
            results = fire_together([lambda srv=srv: srv.validate(body) for srv in replicas])
            assert [r.status for r in results] == [200, 200, 200], results
            assert sorted(r.json["replayed"] for r in results) == [False, True, True]
            os.kill(pid, sig.SIGCONT)
            poll(lambda: all(cache_state(srv) == ("ok", 0.0) for srv in replicas), 60,
                 what="every replica to leave degraded mode (queued events replayed)")
        # The five decisions made before and the five during the outage are all in Redis now, once each.
        decided = replicas[1].validate_ok(sample_txn(card=card(pan_x)))
        assert shadow_codes(decided) >= {"card_count_10", "card_count_3", "card_count_4"}, decided
        assert "card_count_11" not in shadow_codes(decided), decided
        assert set(load.statuses) == {200}, sorted(set(load.statuses))

        # 2. Redis killed and restarted empty: decisions go on; the ones made meanwhile are replayed into it.
        pan_y = make_pan()
        with Load(replicas) as load2:
            os.kill(pid, sig.SIGKILL)
            for i in range(3):
                assert replicas[i % 3].validate(sample_txn(card=card(pan_y))).status == 200
            restart_redis()
            pid = redis_pid()
            poll(lambda: all(cache_state(srv) == ("ok", 0.0) for srv in replicas), 60,
                 what="every replica to recover after the restart")
        decided = replicas[2].validate_ok(sample_txn(card=card(pan_y)))
        assert "card_count_3" in shadow_codes(decided) and "card_count_4" not in shadow_codes(decided), decided
        assert set(load2.statuses) == {200}, sorted(set(load2.statuses))
    finally:
        try:
            os.kill(pid, sig.SIGCONT)
        except OSError:
            pass
        try:
            txvtest.redis_command(os.environ["TXV_TEST_REDIS_URL"], "PING")
        except OSError:
            restart_redis()

    # No acknowledged decision was lost.
    for merchant, tid in load.acknowledged + load2.acknowledged:
        assert replicas[0].get_txn(merchant, tid).status == 200, tid
    for srv in replicas:
        assert srv.metric("txv_cache_errors_total") > 0


def test_postgres_outage_answers_503_and_recovers(make_cluster):
    replicas = make_cluster(2)
    pg_bin, pg_data = os.environ["TXV_TEST_PG_BIN"], os.environ["TXV_TEST_PG_DATA"]
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(as_pg + [f"{pg_bin}/pg_ctl", "-D", pg_data, "-m", "fast", "-w", "stop"], check=True,
                   capture_output=True, timeout=60)
    try:
        for srv in replicas:
            r = srv.validate(sample_txn(card=card(make_pan())))
            assert_error(r, 503, "unavailable")
            ready = srv.request("GET", "/readyz", key=None)
            assert ready.status == 503, ready
            assert ready.json["checks"]["database"] != "ok"
    finally:
        # A loaded 2-core box can take a while to replay the WAL: wait up to 3 minutes (pg_ctl's own default is 60 s).
        subprocess.run(as_pg + [f"{pg_bin}/pg_ctl", "-D", pg_data, "-l", f"{pg_data}/../pg.log", "-w", "-t", "180",
                                "start"], check=True, capture_output=True, timeout=200)
    for srv in replicas:
        poll(lambda srv=srv: srv.request("GET", "/readyz", key=None).status == 200, 60,
             what="readiness once PostgreSQL is back")
        body = sample_txn(transaction_id=unique_id(), card=card(make_pan()))
        assert srv.validate(body).status == 200
        assert srv.get_txn(body["merchant_id"], body["transaction_id"]).status == 200
