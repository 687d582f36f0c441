"""Velocity counters survive a restart: they are rebuilt from stored decisions at start-up, and a rule
that needs a longer window than the counters keep gets a backfill before it goes live."""

from __future__ import annotations

from rulestest import fresh_customer, fresh_ip, fresh_txn, reason_codes
from txvtest import card, make_pan, unique_id, unique_merchant

HOUR_MS = 3600 * 1000


def create_rule(srv, expression, action, code, **kw):
    r = srv.create_rule(dict({"name": code, "expression": expression, "action": action, "code": code}, **kw))
    assert r.status == 201, r
    return r.json


def restart(srv):
    srv.stop(expect_exit=0)  # SIGTERM, exit 0
    srv.start()


def test_card_counter_survives_sigterm_restart(make_server):
    srv = make_server()
    rule = create_rule(srv, "velocity('card', '1h').count >= 3", "decline", "card_velocity")
    pan = make_pan("4", 16)
    bodies = [fresh_txn(card=card(pan), amount=a) for a in (100, 200, 300)]
    for b in bodies:
        d = srv.validate_ok(b)
        assert d["decision"] == "approve" and d["replayed"] is False, d

    restart(srv)

    # A replay after the restart answers the stored decision and is not counted again.
    again = srv.validate_ok(bodies[1])
    assert again["replayed"] is True and again["decision"] == "approve", again

    # The rule is still there and the three earlier decisions still count.
    listed = srv.request("GET", "/v1/rules", key="admin").json["items"]
    assert [r["id"] for r in listed] == [rule["id"]]
    # The amount was rebuilt too (same currency only): two shadow probes.
    usd = create_rule(srv, "velocity('card', '1h').amount == 600", "review", "card_usd_600", mode="shadow")
    create_rule(srv, "currency == 'EUR' && velocity('card', '1h').amount == 0", "review", "card_eur_0",
                mode="shadow")
    d = srv.validate_ok(fresh_txn(card=card(pan)))
    assert d["decision"] == "decline", d
    assert d["reasons"] == [{"code": "card_velocity", "source": "rule", "rule_id": rule["id"], "action": "decline"}]
    assert d["shadow_matches"] == [{"rule_id": usd["id"], "action": "review", "code": "card_usd_600"}], d
    d = srv.validate_ok(fresh_txn(card=card(pan), currency="EUR"))
    assert d["decision"] == "decline" and [s["code"] for s in d["shadow_matches"]] == ["card_eur_0"], d
    # A fresh card is not affected.
    assert srv.validate_ok(fresh_txn(card=card(make_pan("4", 16))))["decision"] == "approve"


def test_every_key_survives_restart(make_server):
    srv = make_server()
    keys = ["card", "customer", "email", "ip", "device", "merchant"]
    for k in keys:
        create_rule(srv, f"velocity('{k}', '1h').count >= 3", "decline", f"{k}_velocity")
    shared = {"card": make_pan("4", 16), "customer": unique_id("cust"), "email": f"{unique_id('e')}@mail.test",
              "ip": fresh_ip(), "device": unique_id("dev"), "merchant": unique_merchant("mk")}

    def txn(k):
        body = fresh_txn()
        if k == "card":
            body["card"] = card(shared["card"])
        elif k == "merchant":
            body["merchant_id"] = shared["merchant"]
        else:
            body["customer"][{"customer": "id", "email": "email", "ip": "ip", "device": "device_id"}[k]] = shared[k]
        return body

    for k in keys:
        for _ in range(3):
            d = srv.validate_ok(txn(k))
            assert d["decision"] == "approve", (k, d)

    restart(srv)

    for k in keys:
        d = srv.validate_ok(txn(k))
        assert d["decision"] == "decline" and reason_codes(d) == [f"{k}_velocity"], (k, d)
    assert srv.validate_ok(fresh_txn())["decision"] == "approve"


def test_mixed_case_email_survives_restart(make_server):
    # Emails are compared lower-cased; the rebuilt counters must use the same key as live ones.
    srv = make_server()
    create_rule(srv, "velocity('email', '1h').count >= 3", "decline", "email_velocity")
    local = unique_id("Mixed.Case")
    for email in (f"{local}@Example.COM", f"{local.lower()}@example.com", f"{local}@EXAMPLE.com"):
        d = srv.validate_ok(fresh_txn(customer=fresh_customer(email=email)))
        assert d["decision"] == "approve", d
    # Before the restart the fourth one declines...
    d = srv.validate_ok(fresh_txn(customer=fresh_customer(email=f"{local}@Example.COM")))
    assert d["decision"] == "decline", d

    restart(srv)

    # ...and after it, too (4 earlier decisions for this address, whatever the case).
    for email in (f"{local}@Example.COM", f"{local.lower()}@example.com"):
        d = srv.validate_ok(fresh_txn(customer=fresh_customer(email=email)))
        assert d["decision"] == "decline" and reason_codes(d) == ["email_velocity"], (email, d)


def test_longer_window_rule_after_restart_sees_history(make_server):
    srv = make_server()
    one_hour = create_rule(srv, "velocity('card', '1h').count >= 3", "decline", "card_velocity")
    recent, aged = make_pan("4", 16), make_pan("4", 16)
    aged_ids = []
    for _ in range(3):
        srv.validate_ok(fresh_txn(card=card(recent)))
        body = fresh_txn(card=card(aged))
        aged_ids.append((body["merchant_id"], body["transaction_id"]))
        assert srv.validate_ok(body)["decision"] == "approve"

    srv.stop(expect_exit=0)
    # Make the first decision for `aged` two hours old (as if it had been decided then).
    db = srv.db()
    try:
        cur = db.execute("UPDATE transactions SET decided_at = decided_at - ? WHERE merchant_id = ? "
                         "AND transaction_id = ?", (2 * HOUR_MS, *aged_ids[0]))
        assert cur.rowcount == 1
        db.commit()
    finally:
        db.close()
    srv.start()

    # 1 h window: the aged decision is outside, 2 remain; the recent card has 3.
    d = srv.validate_ok(fresh_txn(card=card(recent)))
    assert d["decision"] == "decline" and reason_codes(d) == ["card_velocity"], d
    d = srv.validate_ok(fresh_txn(card=card(aged)))
    assert d["decision"] == "approve", d  # 2 earlier within 1 h
    assert d["reasons"] == []

    # A rule added now with a 24 h window sees every stored decision: 3 before the restart + 1 after.
    day = create_rule(srv, "velocity('card', '24h').count >= 4", "review", "card_daily")
    d = srv.validate_ok(fresh_txn(card=card(aged)))
    assert "card_daily" in reason_codes(d), d
    # ...while the 1 h rule still sees only the last hour: 2 + 1 = 3 -> it matches now as well.
    assert sorted(reason_codes(d)) == ["card_daily", "card_velocity"], d
    assert {r["rule_id"] for r in d["reasons"]} == {one_hour["id"], day["id"]}

    # And after another restart the 24 h rule is there from the start (rebuilt with its window).
    restart(srv)
    d = srv.validate_ok(fresh_txn(card=card(aged)))
    assert "card_daily" in reason_codes(d) and "card_velocity" in reason_codes(d), d
    other = make_pan("4", 16)
    assert srv.validate_ok(fresh_txn(card=card(other)))["decision"] == "approve"
