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
