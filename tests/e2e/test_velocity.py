"""velocity(KEY, WINDOW) (contract section 5) through the real binary.

Most tests read the counters exactly through VelocityProbe (shadow rules that spell the count and the
amount in binary; they never change a decision).  The exactness test runs on its own server with
nothing but the contract's example rule.
"""

from __future__ import annotations

import copy

import pytest

from rulestest import (Crowd, Rules, VelocityProbe, fresh_customer, fresh_ip, fresh_txn, reason_codes,
                       shadow_codes)
from txvtest import assert_error, card, make_pan, scaled, unique_id, unique_merchant

KEYS = ("card", "customer", "email", "ip", "device", "merchant")


@pytest.fixture(scope="module")
def probes(server):
    return {k: VelocityProbe(server, k, "1h") for k in KEYS}


def read_all(probes, decision):
    return {k: p.read(decision) for k, p in probes.items()}


def share(key: str, value, body: dict) -> dict:
    """Sets the value of velocity key ``key`` in a fresh transaction body."""
    body = copy.deepcopy(body)
    if key == "card":
        body["card"] = card(value)
    elif key == "customer":
        body["customer"]["id"] = value
    elif key == "email":
        body["customer"]["email"] = value
    elif key == "ip":
        body["customer"]["ip"] = value
    elif key == "device":
        body["customer"]["device_id"] = value
    elif key == "merchant":
        body["merchant_id"] = value
    return body


def shared_value(key: str):
    return {"card": make_pan("4", 16), "customer": unique_id("cust"), "email": f"{unique_id('e')}@mail.test",
            "ip": fresh_ip(), "device": unique_id("dev"), "merchant": unique_merchant("mv")}[key]


# ============================================================== per key


@pytest.mark.parametrize("key", KEYS)
def test_count_and_amount_per_key(server, probes, key):
    value = shared_value(key)
    amounts = [100, 250, 1000, 7, 50000]
    seen_count, seen_amount = 0, 0
    for a in amounts:
        d = server.validate_ok(share(key, value, fresh_txn(amount=a)))
        got = read_all(probes, d)
        assert got[key] == (seen_count, seen_amount), (key, got)
        for other in KEYS:
            if other != key:
                assert got[other] == (0, 0), (key, other, got)
        seen_count += 1
        seen_amount += a
    # Another value of the same key starts from zero.
    d = server.validate_ok(share(key, shared_value(key), fresh_txn()))
    assert read_all(probes, d)[key] == (0, 0)


def test_email_is_compared_lower_cased(server, probes):
    local = unique_id("MiXeD").replace("-", ".")
    variants = [f"{local}@Example.COM", f"{local.lower()}@example.com", f"{local.upper()}@EXAMPLE.com"]
    for i, email in enumerate(variants + [variants[0]]):
        d = server.validate_ok(fresh_txn(amount=10, customer=fresh_customer(email=email)))
        assert probes["email"].read(d) == (i, 10 * i), (email, d["shadow_matches"])


def test_customer_id_ip_device_are_exact_strings(server, probes):
    cid = unique_id("Cust")
    server.validate_ok(fresh_txn(customer=fresh_customer(id=cid)))
    d = server.validate_ok(fresh_txn(customer=fresh_customer(id=cid.lower())))
    assert probes["customer"].read(d) == (0, 0)
    d = server.validate_ok(fresh_txn(customer=fresh_customer(id=cid)))
    assert probes["customer"].read(d)[0] == 1


def test_same_card_other_expiry_is_the_same_card(server, probes):
    pan = make_pan("4", 16)
    server.validate_ok(fresh_txn(card=card(pan, 12, 2030)))
    d = server.validate_ok(fresh_txn(card=card(pan, 11, 2031)))
    assert probes["card"].read(d) == (1, 12550)


# ============================================================== currency


def test_amount_is_per_currency_count_is_not(server, probes):
    pan = make_pan("4", 16)
    plan = [(100, "USD"), (200, "EUR"), (300, "usd"), (50, "JPY"), (7, "EUR")]
    for a, c in plan:
        server.validate_ok(fresh_txn(card=card(pan), amount=a, currency=c))
    d = server.validate_ok(fresh_txn(card=card(pan), amount=1, currency="USD"))
    assert probes["card"].read(d) == (5, 400), d["shadow_matches"]
    d = server.validate_ok(fresh_txn(card=card(pan), amount=1, currency="EUR"))
    assert probes["card"].read(d) == (6, 207)
    d = server.validate_ok(fresh_txn(card=card(pan), amount=1, currency="JPY"))
    assert probes["card"].read(d) == (7, 50)
    d = server.validate_ok(fresh_txn(card=card(pan), amount=1, currency="GBP"))
    assert probes["card"].read(d) == (8, 0)


def test_amount_rule_with_currency(server):
    cust = fresh_customer()
    with Rules(server) as rules:
        rules.add(f"customer.id == '{cust['id']}' && velocity('customer', '24h').amount + amount > 1000", "review",
                  "cust_spend")
        assert server.validate_ok(fresh_txn(customer=cust, amount=600))["decision"] == "approve"
        assert server.validate_ok(fresh_txn(customer=cust, amount=400))["decision"] == "approve"  # 600 + 400
        assert server.validate_ok(fresh_txn(customer=cust, amount=900, currency="EUR"))["decision"] == "approve"
        d = server.validate_ok(fresh_txn(customer=cust, amount=1))
        assert d["decision"] == "review" and reason_codes(d) == ["cust_spend"], d
        d = server.validate_ok(fresh_txn(customer=cust, amount=101, currency="EUR"))
        assert d["decision"] == "review", d


# ============================================================== what counts


def test_replays_never_count(server, probes):
    pan = make_pan("4", 16)
    body = fresh_txn(card=card(pan), amount=500)
    first = server.validate_ok(body)
    assert first["replayed"] is False and probes["card"].read(first) == (0, 0)
    for _ in range(3):
        again = server.validate_ok(body)
        assert again["replayed"] is True
        assert probes["card"].read(again) == (0, 0)  # the stored decision
    # A conflicting request with the same key is refused and not counted either.
    conflict = dict(body, amount=501)
    assert_error(server.validate(conflict), 409, "idempotency_conflict")
    d = server.validate_ok(fresh_txn(card=card(pan), amount=1))
    assert probes["card"].read(d) == (1, 500), d["shadow_matches"]
    # Replaying the first one after later decisions still answers the original counts and adds nothing.
    assert probes["card"].read(server.validate_ok(body)) == (0, 0)
    d = server.validate_ok(fresh_txn(card=card(pan), amount=1))
    assert probes["card"].read(d) == (2, 501)


def test_declines_and_reviews_count(server, probes):
    pan = make_pan("4", 16)
    tag = unique_id("force").replace("-", "_")
    with Rules(server) as rules:
        rules.add(f"metadata.force == '{tag}_decline'", "decline", "forced_decline")
        rules.add(f"metadata.force == '{tag}_review'", "review", "forced_review")
        d = server.validate_ok(fresh_txn(card=card(pan), amount=10, metadata={"force": f"{tag}_decline"}))
        assert d["decision"] == "decline"
        d = server.validate_ok(fresh_txn(card=card(pan), amount=20, metadata={"force": f"{tag}_review"}))
        assert d["decision"] == "review"
        assert probes["card"].read(d) == (1, 10)
        d = server.validate_ok(fresh_txn(card=card(pan, 1, 2020), amount=40))  # expired: check decline
        assert d["decision"] == "decline" and "card_expired" in reason_codes(d)
        assert probes["card"].read(d) == (2, 30)
        # A request refused before deciding (422) is no decision and does not count.
        bad = fresh_txn(card=card(pan), amount=80, currency="XXQ")
        assert server.validate(bad).status == 422
        d = server.validate_ok(fresh_txn(card=card(pan), amount=1))
        assert d["decision"] == "approve"
        assert probes["card"].read(d) == (3, 70), d["shadow_matches"]


def test_batch_items_count_in_order(server, probes):
    pan = make_pan("4", 16)
    items = [fresh_txn(card=card(pan), amount=10 * (i + 1)) for i in range(4)]
    items.insert(2, dict(fresh_txn(card=card(pan)), amount=-5))  # an invalid item: not decided
    r = server.validate_batch(items)
    assert r.status == 200, r
    res = r.json["results"]
    assert "error" in res[2]
    decided = [(probes["card"].read(x), items[i]["amount"]) for i, x in enumerate(res) if i != 2]
    # Each item saw exactly the items decided before it (whatever order the batch used).
    assert sorted(c for (c, _), _ in decided) == [0, 1, 2, 3], decided
    by_count = sorted(decided)
    running = 0
    for (count, amount), own in by_count:
        assert amount == running, decided
        running += own


def test_absent_key_has_no_counter(server, probes):
    with Rules(server) as rules:
        m = unique_merchant("abs")
        rules.add(f"merchant_id == '{m}' && velocity('customer', '1h').count >= 0", "decline", "has_customer_counter")
        rules.add(f"merchant_id == '{m}' && !(velocity('email', '1h').count > 1000)", "review", "email_small")
        body = fresh_txn(merchant_id=m)
        del body["customer"]
        d = server.validate_ok(body)
        assert d["decision"] == "approve" and d["reasons"] == [], d
        got = read_all(probes, d)
        assert got["customer"] is None and got["email"] is None and got["ip"] is None and got["device"] is None, got
        assert got["card"] == (0, 0) and got["merchant"] == (0, 0), got
        d = server.validate_ok(fresh_txn(merchant_id=m, customer={"id": unique_id("only-id")}))
        got = read_all(probes, d)
        assert got["customer"] == (0, 0) and got["email"] is None and got["device"] is None, got
        assert reason_codes(d) == ["has_customer_counter"] and d["decision"] == "decline", d


def test_every_window_sees_recent_events(server):
    pan = make_pan("4", 16)
    windows = ["30s", "10m", "1h", "1h30m", "24h", "7d", "30d"]
    with Rules(server) as rules:
        for w in windows:
            rules.add(f"card.fingerprint != '' && velocity('card', '{w}').count == 2", "review",
                      f"win_{w}", mode="shadow")
        server.validate_ok(fresh_txn(card=card(pan)))
        server.validate_ok(fresh_txn(card=card(pan)))
        d = server.validate_ok(fresh_txn(card=card(pan)))
        assert sorted(c for c in shadow_codes(d) if c.startswith("win_")) == sorted(f"win_{w}" for w in windows)
        d = server.validate_ok(fresh_txn(card=card(pan)))
        assert not [c for c in shadow_codes(d) if c.startswith("win_")]


# ============================================================== concurrency


def test_concurrent_distinct_requests_see_every_count_once(server, probes):
    pan = make_pan("4", 16)
    n = 40
    crowd = Crowd(server, n)
    try:
        res = crowd.post_all("/v1/transactions/validate", [fresh_txn(card=card(pan), amount=1) for _ in range(n)])
    finally:
        crowd.close()
    assert all(r.status == 200 for r in res), [r for r in res if r.status != 200][:3]
    counts = sorted(probes["card"].read(r.json)[0] for r in res)
    assert counts == list(range(n)), counts
    amounts = sorted(probes["card"].read(r.json)[1] for r in res)
    assert amounts == list(range(n))


def test_concurrent_identical_requests_count_once(server, probes):
    pan = make_pan("4", 16)
    body = fresh_txn(card=card(pan), amount=70)
    n = 30
    crowd = Crowd(server, n)
    try:
        res = crowd.post_all("/v1/transactions/validate", [body] * n)
    finally:
        crowd.close()
    assert all(r.status == 200 for r in res), [r for r in res if r.status != 200][:3]
    docs = [r.json for r in res]
    assert sum(1 for d in docs if d["replayed"] is False) == 1
    assert len({(d["decision"], d["decided_at"], str(d["shadow_matches"])) for d in docs}) == 1
    d = server.validate_ok(fresh_txn(card=card(pan), amount=1))
    assert probes["card"].read(d) == (1, 70)


ROUNDS = scaled(20, 5)
CLIENTS = 50


def test_exactly_three_approvals_under_concurrency(make_server):
    srv = make_server()
    r = srv.create_rule({"name": "card velocity", "expression": "velocity('card', '1h').count >= 3",
                         "action": "decline", "code": "card_velocity"})
    assert r.status == 201, r
    rule_id = r.json["id"]
    crowd = Crowd(srv, CLIENTS)
    try:
        for rnd in range(ROUNDS):
            pan = make_pan("4", 16)
            bodies = [fresh_txn(card=card(pan), amount=100 + i) for i in range(CLIENTS)]
            res = crowd.post_all("/v1/transactions/validate", bodies)
            bad = [x for x in res if x.status != 200]
            assert not bad, f"round {rnd}: {bad[:3]}"
            docs = [x.json for x in res]
            approvals = [d for d in docs if d["decision"] == "approve"]
            declines = [d for d in docs if d["decision"] == "decline"]
            assert len(approvals) == 3, f"round {rnd}: {len(approvals)} approvals for one card"
            assert len(declines) == CLIENTS - 3
            assert all(d["reasons"] == [{"code": "card_velocity", "source": "rule", "rule_id": rule_id,
                                         "action": "decline"}] for d in declines)
            assert all(d["reasons"] == [] for d in approvals)
            assert len({d["card"]["fingerprint"] for d in docs}) == 1
    finally:
        crowd.close()


def test_backfill_for_a_longer_window_keeps_history(make_server):
    # A rule needing a longer window than the counters keep triggers a rebuild from stored decisions
    # (README: backfill). Every key, the lower-cased email included, must keep its history.
    srv = make_server()
    create = srv.create_rule
    assert create({"name": "e", "expression": "velocity('email', '1h').count >= 3", "action": "decline",
                   "code": "email_velocity"}).status == 201
    assert create({"name": "c", "expression": "velocity('card', '1h').count >= 3", "action": "decline",
                   "code": "card_velocity"}).status == 201
    local = unique_id("Back.Fill")
    lower_email = f"{unique_id('plain')}@mail.test"
    pan = make_pan("4", 16)
    for i in range(3):
        assert srv.validate_ok(fresh_txn(customer=fresh_customer(email=f"{local}@Example.COM")))["decision"] == "approve"
        assert srv.validate_ok(fresh_txn(customer=fresh_customer(email=lower_email)))["decision"] == "approve"
        assert srv.validate_ok(fresh_txn(card=card(pan)))["decision"] == "approve"
    # Longer than anything so far: the counters are rebuilt before this rule goes live.
    assert create({"name": "w", "expression": "velocity('ip', '2h').count >= 1000", "action": "review",
                   "code": "ip_2h"}).status == 201
    d = srv.validate_ok(fresh_txn(card=card(pan)))
    assert reason_codes(d) == ["card_velocity"], d
    d = srv.validate_ok(fresh_txn(customer=fresh_customer(email=lower_email)))
    assert reason_codes(d) == ["email_velocity"], d
    d = srv.validate_ok(fresh_txn(customer=fresh_customer(email=f"{local}@Example.COM")))
    assert reason_codes(d) == ["email_velocity"], d


def test_exact_while_longer_window_rules_are_added(make_server):
    # Admin activity must not break exactness: while requests for one card are in flight, rules with
    # ever longer windows are created (each one makes the server backfill its counters from stored
    # decisions). Still exactly 3 approvals per card, and afterwards every decision is counted.
    srv = make_server()
    assert srv.create_rule({"name": "cv", "expression": "velocity('card', '1h').count >= 3", "action": "decline",
                            "code": "card_velocity"}).status == 201
    validators, creators = 45, 5
    r = srv.create_rule({"name": "all", "expression": f"velocity('card', '1h').count == {validators}",
                         "action": "review", "code": "all_counted", "mode": "shadow"})
    assert r.status == 201, r
    crowd = Crowd(srv, validators + creators)
    hours = 1
    try:
        for rnd in range(ROUNDS):
            pan = make_pan("4", 16)
            bodies, paths = [], []
            for _ in range(validators):
                bodies.append(fresh_txn(card=card(pan)))
                paths.append("/v1/transactions/validate")
            for _ in range(creators):
                hours += 1
                bodies.append({"name": f"ip {hours}h", "expression": f"velocity('ip', '{hours}h').count >= 1000000",
                               "action": "review", "code": "ip_long_window"})
                paths.append("/v1/rules")
            res = crowd.post_each(paths, bodies)
            assert all(x.status == 201 for x in res[validators:]), res[validators:]
            assert all(x.status == 200 for x in res[:validators]), [x for x in res[:validators] if x.status != 200][:3]
            approvals = sum(1 for x in res[:validators] if x.json["decision"] == "approve")
            after = srv.validate_ok(fresh_txn(card=card(pan)))
            assert (approvals, "all_counted" in shadow_codes(after)) == (3, True), \
                f"round {rnd}: {approvals} approvals for one card; next decision sees all {validators}: " \
                f"{'all_counted' in shadow_codes(after)}"
    finally:
        crowd.close()
