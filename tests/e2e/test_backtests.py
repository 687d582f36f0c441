"""Backtests (contract section 11) and decision traces (section 10) through the real binary.

The history is built here, so every number of the result is known: a proposed velocity rule catches
exactly one transaction, and only because of the two earlier decisions on the same card.
"""

from __future__ import annotations

import datetime as dt

import pytest

from rulestest import Rules, assert_invalid_expression, fresh_customer
from txvtest import assert_error, card, make_pan, poll, sample_txn, scaled, unique_id, unique_merchant


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def window() -> tuple[str, str]:
    now = dt.datetime.now(dt.timezone.utc)
    return rfc3339(now - dt.timedelta(hours=1)), rfc3339(now + dt.timedelta(hours=1))


def validate(server, merchant: str, pan: str, amount: int) -> dict:
    body = sample_txn(merchant_id=merchant, card=card(pan), amount=amount, customer=fresh_customer())
    r = server.request("POST", "/v1/transactions/validate", body, key="admin")
    assert r.status == 200, r
    return r.json


def label(server, merchant: str, txn: str, value: str) -> None:
    r = server.request("POST", f"/v1/transactions/{merchant}/{txn}/labels",
                       {"label": value, "source": "chargeback"}, key="analyst")
    assert r.status == 201, r


def finished(server, job_id: str) -> dict:
    def done():
        r = server.request("GET", f"/v1/backtests/{job_id}", key="analyst")
        assert r.status == 200, r
        return r.json if r.json["status"] != "running" else None
    return poll(done, scaled(30, 120), what=f"backtest {job_id}")


@pytest.fixture(scope="module")
def history(server):
    """Merchant M: card A three times (1,000, 2,000, 3,000), card B 60,000, card C 150,000 (declined by the live
    rule `amount > 100000`). Labels: A's third and C fraud, B not_fraud."""
    m = unique_merchant("bt")
    a, b, c = make_pan("4", 16), make_pan("51", 16), make_pan("4", 16)
    with Rules(server) as rules:
        live = rules.add("amount > 100000", "decline", "too_big", priority=10)
        ids = {}
        for name, pan, amount in (("a1", a, 1000), ("a2", a, 2000), ("a3", a, 3000), ("b", b, 60000),
                                  ("c", c, 150000)):
            ids[name] = validate(server, m, pan, amount)["transaction_id"]
        label(server, m, ids["a3"], "fraud")
        label(server, m, ids["c"], "fraud")
        label(server, m, ids["b"], "not_fraud")
        yield {"merchant": m, "ids": ids, "live": live, "pans": (a, b, c)}


def test_backtest_of_a_velocity_rule_over_a_known_history(server, history):
    since, until = window()
    body = {"rules": [{"name": "card burst", "expression": "velocity('card', '1h').count >= 2",
                       "action": "decline", "code": "card_burst", "priority": 20},
                      {"name": "large", "expression": "amount > 50000", "action": "review", "code": "large",
                       "priority": 30}],
            "since": since, "until": until, "merchant_id": history["merchant"]}
    r = server.request("POST", "/v1/backtests", body, key="analyst")
    assert r.status == 202, r
    assert r.json["status"] == "running" and r.json["progress"] == 0 and r.json["id"].startswith("bt_"), r
    job = finished(server, r.json["id"])
    assert job["status"] == "done", job
    assert job["progress"] == 1 and job["transactions"] == 5, job
    res = job["result"]
    usd = lambda n, amount: {"count": n, "amount": {"USD": amount} if n else {}}  # noqa: E731
    assert res["outcomes"]["actual"] == {"approve": usd(4, 66000), "decline": usd(1, 150000), "review": usd(0, 0)}
    assert res["outcomes"]["live"] == res["outcomes"]["actual"]
    assert res["outcomes"]["proposed"] == {"approve": usd(2, 3000), "decline": usd(2, 153000),
                                           "review": usd(1, 60000)}
    assert res["changes"] == {"approve->decline": 1, "approve->review": 1}
    ids, m = history["ids"], history["merchant"]
    assert res["samples"] == {"approve->decline": [{"merchant_id": m, "transaction_id": ids["a3"]}],
                              "approve->review": [{"merchant_id": m, "transaction_id": ids["b"]}]}
    assert res["rules"] == [
        {"rule_id": history["live"]["id"], "name": history["live"]["name"], "matches_live": 1,
         "matches_proposed": 1},
        {"name": "card burst", "matches_live": None, "matches_proposed": 1},
        {"name": "large", "matches_live": None, "matches_proposed": 2},
    ]
    labels = res["labels"]
    assert labels["fraud"] == {"total": 2, "stopped_live": 1, "stopped_proposed": 2}
    assert labels["not_fraud"] == {"total": 1, "stopped_live": 0, "stopped_proposed": 1}
    assert labels["precision_live"] == 1.0 and labels["recall_live"] == 0.5
    assert abs(labels["precision_proposed"] - 2 / 3) < 1e-9 and labels["recall_proposed"] == 1.0
    listed = server.request("GET", "/v1/backtests", key="admin")
    assert listed.status == 200 and any(j["id"] == job["id"] for j in listed.json["items"]), listed
    assert_error(server.request("DELETE", f"/v1/backtests/{job['id']}", key="admin"), 409, "conflict")


def test_replace_all_and_a_replaced_live_rule(server, history):
    since, until = window()
    live = history["live"]
    body = {"rules": [{"id": live["id"], "name": live["name"], "expression": "amount > 2500", "action": "decline",
                       "code": "too_big"}],
            "since": since, "until": until, "merchant_id": history["merchant"], "replace_all": True}
    r = server.request("POST", "/v1/backtests", body, key="admin")
    assert r.status == 202, r
    res = finished(server, r.json["id"])["result"]
    assert res["rules"] == [{"rule_id": live["id"], "name": live["name"], "matches_live": 1,
                             "matches_proposed": 3}]
    assert res["changes"] == {"approve->decline": 2}


def test_bad_backtests_are_refused_and_start_nothing(server, history):
    since, until = window()
    ok_rule = {"name": "x", "expression": "amount > 1", "action": "decline", "code": "x"}
    before = len(server.request("GET", "/v1/backtests", key="admin").json["items"])
    r = server.request("POST", "/v1/backtests", {"rules": [ok_rule, dict(ok_rule, expression="amount >")],
                                                 "since": since, "until": until}, key="admin")
    assert r.status == 422 and r.json["error"]["code"] == "invalid_expression", r
    assert r.json["error"]["details"][0]["field"] == "rules[1].expression", r
    assert_error(server.request("POST", "/v1/backtests", {"rules": [dict(ok_rule, id="rule_nope")], "since": since,
                                                          "until": until}, key="admin"),
                 422, "validation_failed", [("rules[0].id", "unknown_rule")])
    assert_error(server.request("POST", "/v1/backtests", {"rules": [], "since": until, "until": since},
                                key="admin"), 422, "validation_failed", [("until", "must_be_after_since")])
    assert_error(server.request("POST", "/v1/backtests", {"rules": [], "since": "yesterday", "extra": 1},
                                key="admin"), 422, "validation_failed",
                 [("since", "invalid_format"), ("until", "required"), ("extra", "unknown_field")])
    assert_error(server.request("POST", "/v1/backtests", {"rules": [], "since": since, "until": until},
                                key="validator"), 403, "forbidden")
    assert_error(server.request("GET", "/v1/backtests/bt_0000000000000000", key="admin"), 404, "not_found")
    assert_error(server.request("DELETE", "/v1/backtests/bt_0000000000000000", key="admin"), 404, "not_found")
    assert len(server.request("GET", "/v1/backtests", key="admin").json["items"]) == before


def test_trace_shows_the_velocity_count_that_made_a_rule_match(server):
    m, pan = unique_merchant("tr"), make_pan("4", 16)
    with Rules(server) as rules:
        rule = rules.add("velocity('card', '1h').count >= 2 && customer.device_id != 'blocked'", "review",
                         "card_again", priority=1)
        results = [validate(server, m, pan, 100 + i) for i in range(3)]
    assert [r["decision"] for r in results] == ["approve", "approve", "review"]
    txn = results[2]["transaction_id"]
    plain = server.request("GET", f"/v1/transactions/{m}/{txn}", key="analyst")
    assert plain.status == 200 and "trace" not in plain.json, plain
    r = server.request("GET", f"/v1/transactions/{m}/{txn}?include=trace", key="analyst")
    assert r.status == 200, r
    mine = [t for t in r.json["trace"] if t["rule_id"] == rule["id"]]
    assert mine == [{"rule_id": rule["id"], "rule_version": 1, "mode": "enforce", "result": "match",
                     "values": [{"expr": "velocity('card', '1h').count", "value": 2},
                                {"expr": "customer.device_id", "value": r.json["customer"]["device_id"]}]}], r.json
    first = server.request("GET", f"/v1/transactions/{m}/{results[0]['transaction_id']}?include=trace",
                           key="analyst").json
    assert [t for t in first["trace"] if t["rule_id"] == rule["id"]][0]["values"] == [
        {"expr": "velocity('card', '1h').count", "value": 0}]
    assert_error(server.request("GET", f"/v1/transactions/{m}/{txn}?include=everything", key="analyst"), 422,
                 "validation_failed", [("include", "invalid_value")])


# ---- durable jobs: a restart, another replica

SEED_T0 = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def seed_history(srv, merchant: str, n: int) -> None:
    """n approved decisions of `merchant` on 2020-01-01 (1 ms apart; outside every velocity window), written straight
    into the database: enough for a backtest that runs for seconds."""
    t0 = int(SEED_T0.timestamp() * 1000)
    columns = ("merchant_id, transaction_id, request_hash, type, amount, currency, decision, rules_version, "
               "card_brand, card_bin, card_last4, card_fingerprint, has_customer, has_merchant, occurred_at, "
               "decided_at")
    if srv.replica is not None:
        srv.replica.sql(f"INSERT INTO transactions ({columns}) SELECT '{merchant}', 'seed-' || i, 'h', 'purchase', "
                        f"100 + i % 1000, 'USD', 'approve', 1, 'visa', '411111', '1111', 'fp' || (i % 5000), false, "
                        f"false, {t0} + i, {t0} + i FROM generate_series(1, {n}) AS i")
        return
    with srv.db() as c:
        c.execute(f"INSERT INTO transactions ({columns}) WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                  f"FROM s WHERE i < {n}) SELECT '{merchant}', 'seed-' || i, 'h', 'purchase', 100 + i % 1000, 'USD', "
                  f"'approve', 1, 'visa', '411111', '1111', 'fp' || (i % 5000), 0, 0, {t0} + i, {t0} + i FROM s")


def start_long_backtest(srv, merchant: str) -> str:
    body = {"rules": [{"name": "mid", "expression": "amount > 500", "action": "review", "code": "mid"}],
            "since": rfc3339(SEED_T0), "until": rfc3339(SEED_T0 + dt.timedelta(days=1)), "merchant_id": merchant}
    r = srv.request("POST", "/v1/backtests", body, key="analyst")
    assert r.status == 202, r
    job_id = r.json["id"]

    def replaying():
        j = srv.request("GET", f"/v1/backtests/{job_id}", key="analyst")
        assert j.status == 200 and j.json["status"] == "running", j
        return j.json if j.json["transactions"] > 0 else None
    poll(replaying, scaled(30, 120), what=f"backtest {job_id} replaying")
    return job_id


def assert_failed_by_a_stop(srv, job_id: str, deadline: float) -> dict:
    def ended():
        r = srv.request("GET", f"/v1/backtests/{job_id}", key="analyst")
        assert r.status == 200, r  # never 404
        return r.json if r.json["status"] != "running" else None
    job = poll(ended, deadline, what=f"backtest {job_id} failed")
    assert job["status"] == "failed" and job["error"], job
    assert job["finished_at"] is not None and "result" not in job, job
    listed = srv.request("GET", "/v1/backtests", key="admin")
    assert [j["status"] for j in listed.json["items"] if j["id"] == job_id] == ["failed"], listed
    return job


LONG_HISTORY = scaled(600_000, 150_000)


@pytest.mark.parametrize("how", ["stop", "kill9"])
def test_a_backtest_running_when_the_server_restarts_is_failed_not_forgotten(make_server, how):
    srv = make_server(start=False)
    merchant = unique_merchant("long")
    seed_history(srv, merchant, LONG_HISTORY)
    srv.start()
    job_id = start_long_backtest(srv, merchant)
    if how == "stop":
        srv.stop()  # graceful: this server stores its jobs failed before it exits
    else:
        if srv.replica is not None:
            pytest.skip("replica mode: a dead replica's job fails once stale (test_a_dead_replicas_job_fails...)")
        srv.kill9()  # embedded: the next start fails what was left running
    srv.start()
    job = assert_failed_by_a_stop(srv, job_id, scaled(10, 30))
    assert job["error"] == "the server running this backtest stopped", job
    # The restarted server runs new backtests as before.
    r = srv.request("POST", "/v1/backtests", {"rules": [], "since": rfc3339(SEED_T0),
                                              "until": rfc3339(SEED_T0 + dt.timedelta(milliseconds=100)),
                                              "merchant_id": merchant}, key="analyst")
    assert r.status == 202, r
    done = finished(srv, r.json["id"])
    assert done["status"] == "done" and done["transactions"] == 99, done


def test_a_job_is_visible_and_cancellable_on_every_replica(make_cluster):
    a, b = make_cluster(n=2)
    merchant = unique_merchant("rep")
    seed_history(a, merchant, LONG_HISTORY)
    # A short one, started on replica 0: replica 1 answers the same status and result.
    r = a.request("POST", "/v1/backtests", {"rules": [{"name": "mid", "expression": "amount > 500",
                                                       "action": "review", "code": "mid"}],
                                            "since": rfc3339(SEED_T0),
                                            "until": rfc3339(SEED_T0 + dt.timedelta(seconds=2)),
                                            "merchant_id": merchant}, key="analyst")
    assert r.status == 202, r
    short = finished(a, r.json["id"])
    assert short["status"] == "done" and short["transactions"] == 1999, short
    seen = b.request("GET", f"/v1/backtests/{short['id']}", key="analyst")
    assert seen.status == 200 and seen.json == short, (seen, short)
    assert any(j["id"] == short["id"] for j in b.request("GET", "/v1/backtests", key="admin").json["items"])
    # A long one running on replica 0, cancelled through replica 1.
    job_id = start_long_backtest(a, merchant)
    r = b.request("DELETE", f"/v1/backtests/{job_id}", key="analyst")
    assert r.status == 200 and r.json["status"] == "cancelled", r
    assert a.request("GET", f"/v1/backtests/{job_id}", key="analyst").json["status"] == "cancelled"
    assert_error(b.request("DELETE", f"/v1/backtests/{job_id}", key="analyst"), 409, "conflict")

    # Replica 0 stops replaying it: its worker is free for the next one, which runs to done.
    r = a.request("POST", "/v1/backtests", {"rules": [], "since": rfc3339(SEED_T0),
                                            "until": rfc3339(SEED_T0 + dt.timedelta(milliseconds=100)),
                                            "merchant_id": merchant}, key="analyst")
    assert r.status == 202, r
    assert finished(b, r.json["id"])["status"] == "done"
    assert b.request("GET", f"/v1/backtests/{job_id}", key="analyst").json["status"] == "cancelled"


def test_a_dead_replicas_job_fails_once_stale_on_the_other_replica(make_cluster):
    # A short stale limit (TXV_BACKTEST_STALE_AFTER, default 30 s) keeps the wait short.
    a, b = make_cluster(n=2, env={"TXV_BACKTEST_STALE_AFTER": "5s"})
    merchant = unique_merchant("dead")
    seed_history(a, merchant, LONG_HISTORY)
    job_id = start_long_backtest(a, merchant)
    a.kill9()
    # Replica 1 answers running while the heartbeat is recent, then failed once it is 5 s old.
    assert_failed_by_a_stop(b, job_id, scaled(90, 180))
