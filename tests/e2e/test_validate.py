"""Section 3 and 4: validating, reading, listing, idempotency and review resolution."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import hashlib
import hmac
import json
import threading

import pytest
import txvtest

from txvtest import (DEFAULT_OCCURRED_AT, HEX32, RFC3339_Z, SANITIZED, assert_error, card, make_pan, sample_txn,
                     scaled, unique_id, unique_merchant)

DECISION_KEYS = {"transaction_id", "merchant_id", "decision", "reasons", "shadow_matches", "rules_version", "card",
                 "replayed", "decided_at"}
RECORD_EXTRA = {"amount", "currency", "type", "occurred_at"}


def ts(text: str) -> dt.datetime:
    assert RFC3339_Z.match(text), f"not RFC 3339 UTC with Z: {text!r}"
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_reason(reasons: list, codes: set[str]) -> None:
    assert {r["code"] for r in reasons} == codes, reasons
    for r in reasons:
        assert r == {"code": r["code"], "source": "check", "action": "decline"}, r


def decision_part(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "replayed"}


def minimal_item(merchant: str = "m-b", tid: str | None = None, **kw) -> dict:
    d = {"transaction_id": tid or unique_id("b"), "merchant_id": merchant, "amount": 1, "currency": "USD",
         "card": {"token": "t"}}
    d.update(kw)
    return d


# ---------------------------------------------------------------- decisions


def test_approve_good_card_response_shape(server):
    body = sample_txn()
    r = server.validate(body)
    assert r.status == 200, r
    d = r.json
    assert set(d) == DECISION_KEYS, sorted(d)
    assert d["transaction_id"] == body["transaction_id"]
    assert d["merchant_id"] == body["merchant_id"]
    assert d["decision"] == "approve"
    assert d["reasons"] == []
    assert d["shadow_matches"] == []
    assert d["rules_version"] == 0
    assert d["replayed"] is False
    ts(d["decided_at"])
    c = d["card"]
    assert c["brand"] == "visa" and c["bin"] == "424242" and c["last4"] == "4242", c
    assert HEX32.match(c["fingerprint"]), c
    assert "number" not in c


def test_decline_invalid_luhn(server):
    pan = make_pan("4", 16, valid=False)
    d = server.validate_ok(sample_txn(card=card(pan)))
    assert d["decision"] == "decline"
    check_reason(d["reasons"], {"invalid_card_number"})
    assert d["card"]["bin"] == pan[:6] and d["card"]["last4"] == pan[-4:]
    assert HEX32.match(d["card"]["fingerprint"])


@pytest.mark.parametrize("prefix,length", [
    ("4", 12),                           # visa lengths are 13-19
    ("37", 16), ("34", 14),              # amex is 15
    ("51", 15), ("2221", 17),            # mastercard is 16
    ("2200", 15),                        # mir is 16-19
    ("1", 16), ("7", 16), ("0", 16),     # no brand
])
def test_decline_bad_length_or_unknown_range(server, prefix, length):
    pan = make_pan(prefix, length)
    d = server.validate_ok(sample_txn(card=card(pan)))
    assert d["decision"] == "decline", (pan, d)
    check_reason(d["reasons"], {"invalid_card_number"})


def test_decline_expired(server):
    d = server.validate_ok(sample_txn(card=card(make_pan("4"), 10, 2026)))
    assert d["decision"] == "decline"
    check_reason(d["reasons"], {"card_expired"})


def test_decline_both_checks(server):
    d = server.validate_ok(sample_txn(card=card(make_pan("4", valid=False), 1, 2020)))
    assert d["decision"] == "decline"
    check_reason(d["reasons"], {"invalid_card_number", "card_expired"})
    assert len(d["reasons"]) == 2


@pytest.mark.parametrize("month,year,occurred_at,decision", [
    (11, 2026, "2026-11-30T23:59:59Z", "approve"),
    (11, 2026, "2026-11-30T23:59:59.999Z", "approve"),
    (11, 2026, "2026-12-01T00:00:00Z", "decline"),
    (11, 2026, "2026-12-01T00:30:00+01:00", "approve"),   # = 2026-11-30T23:30Z
    (11, 2026, "2026-11-30T23:30:00-01:00", "decline"),   # = 2026-12-01T00:30Z
    (11, 2026, "2026-11-01T00:00:00Z", "approve"),
    (12, 2026, "2026-12-31T23:59:59Z", "approve"),
    (12, 2026, "2027-01-01T00:00:00Z", "decline"),
    (2, 2028, "2028-02-29T12:00:00Z", "approve"),
    (2, 2028, "2028-03-01T00:00:00Z", "decline"),
    (1, 2027, "2026-06-01T00:00:00Z", "approve"),
])
def test_expiry_month_edges(server, month, year, occurred_at, decision):
    d = server.validate_ok(sample_txn(card=card(make_pan("4"), month, year), occurred_at=occurred_at))
    assert d["decision"] == decision, d
    if decision == "decline":
        check_reason(d["reasons"], {"card_expired"})
    else:
        assert d["reasons"] == []


def test_occurred_at_defaults_to_now(server):
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    # A card that expired last month (relative to the real clock) is declined without occurred_at.
    now = dt.datetime.now(dt.timezone.utc)
    last = (now.replace(day=1) - dt.timedelta(days=1))
    body = sample_txn(card=card(make_pan("4"), last.month, last.year), occurred_at=None)
    del body["occurred_at"]
    d = server.validate_ok(body)
    assert d["decision"] == "decline"
    check_reason(d["reasons"], {"card_expired"})
    rec = server.get_txn(body["merchant_id"], body["transaction_id"]).json
    after = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    occurred = ts(rec["occurred_at"])
    assert before <= occurred <= after
    assert occurred <= ts(rec["decided_at"])


BRANDS = [
    ("visa", "4", 16), ("visa", "4", 13), ("visa", "4", 19), ("visa", "4", 15), ("visa", "4", 17),
    ("mastercard", "51", 16), ("mastercard", "55", 16), ("mastercard", "2221", 16), ("mastercard", "2720", 16),
    ("mastercard", "23", 16),
    ("amex", "34", 15), ("amex", "37", 15),
    ("discover", "6011", 16), ("discover", "659", 16), ("discover", "644", 19),
    ("jcb", "3528", 16), ("jcb", "3589", 19),
    ("diners", "36", 14), ("diners", "300", 14), ("diners", "305", 16),
    ("unionpay", "6200", 16), ("unionpay", "621", 19),
    ("maestro", "6759", 16), ("maestro", "5018", 19), ("maestro", "6304", 12),
    ("unionpay", "8100", 16), ("unionpay", "622126", 16), ("maestro", "493698", 16),
    ("mir", "2200", 16), ("mir", "2204", 19), ("troy", "9792", 16), ("elo", "509000", 16),
]


@pytest.mark.parametrize("brand,prefix,length", BRANDS)
def test_brands(server, brand, prefix, length):
    pan = make_pan(prefix, length)
    d = server.validate_ok(sample_txn(card=card(pan)))
    assert d["decision"] == "approve", (pan, d)
    assert d["card"]["brand"] == brand, (pan, d["card"])
    assert d["card"]["bin"] == pan[:6]
    assert d["card"]["last4"] == pan[-4:]
    assert HEX32.match(d["card"]["fingerprint"])


def test_known_test_numbers(server):
    for pan, brand in [("4242424242424242", "visa"), ("5555555555554444", "mastercard"),
                       ("2223003122003222", "mastercard"), ("378282246310005", "amex"),
                       ("6011111111111117", "discover"), ("3566002020360505", "jcb"),
                       ("36227206271667", "diners"), ("6200000000000005", "unionpay")]:
        d = server.validate_ok(sample_txn(card=card(pan)))
        assert (d["decision"], d["card"]["brand"]) == ("approve", brand), pan


def test_fingerprint_same_card_same_fingerprint(server):
    pan = make_pan("5")
    a = server.validate_ok(sample_txn(card=card(pan, 12, 2030)))
    b = server.validate_ok(sample_txn(card=card(pan, 1, 2031), merchant_id="m-other-fp", amount=9))
    c = server.validate_ok(sample_txn(card=card(make_pan("5"))))
    assert a["card"]["fingerprint"] == b["card"]["fingerprint"]
    assert a["card"]["fingerprint"] != c["card"]["fingerprint"]
    # Even a declined (bad Luhn) number is fingerprinted consistently.
    bad = make_pan("4", valid=False)
    x = server.validate_ok(sample_txn(card=card(bad)))
    y = server.validate_ok(sample_txn(card=card(bad)))
    assert x["card"]["fingerprint"] == y["card"]["fingerprint"]


def test_fingerprint_is_keyed(server):
    pan = make_pan("4")
    fp = server.validate_ok(sample_txn(card=card(pan)))["card"]["fingerprint"]
    assert fp != hashlib.sha256(pan.encode()).hexdigest()[:32]
    assert fp != hmac.new(b"", pan.encode(), hashlib.sha256).hexdigest()[:32]
    assert fp not in pan and pan not in fp


def test_fingerprint_is_hmac_sha256_with_the_configured_key(make_server):
    key = bytes(range(32)).hex() + "a1b2c3d4"
    srv = make_server(extra_args=["--pan-key", key])
    pan = make_pan("4")
    fp = srv.validate_ok(sample_txn(card=card(pan)))["card"]["fingerprint"]
    assert fp == hmac.new(bytes.fromhex(key), pan.encode(), hashlib.sha256).hexdigest()[:32]


@pytest.mark.skipif(txvtest.REPLICA, reason="embedded only: a replica is given its PAN key (TXV_PAN_KEY)")
def test_generated_pan_keys_differ_between_data_dirs(make_server):
    pan = make_pan("4")
    a = make_server()
    b = make_server()
    fa = a.validate_ok(sample_txn(card=card(pan)))["card"]["fingerprint"]
    fb = b.validate_ok(sample_txn(card=card(pan)))["card"]["fingerprint"]
    assert fa != fb
    assert (a.data_dir / "pan.key").exists()


def test_token_card(server):
    body = sample_txn(card={"token": "tok_" + unique_id(), "bin": "424242", "last4": "4242", "brand": "visa"})
    d = server.validate_ok(body)
    assert d["decision"] == "approve"
    assert d["reasons"] == []
    assert d["card"]["brand"] == "visa" and d["card"]["bin"] == "424242" and d["card"]["last4"] == "4242"
    assert HEX32.match(d["card"]["fingerprint"])
    # Same token, same fingerprint; other token, other fingerprint.
    again = server.validate_ok(sample_txn(card={"token": body["card"]["token"]}))
    assert again["card"]["fingerprint"] == d["card"]["fingerprint"]
    other = server.validate_ok(sample_txn(card={"token": "tok_" + unique_id()}))
    assert other["card"]["fingerprint"] != d["card"]["fingerprint"]
    rec = server.get_txn(body["merchant_id"], body["transaction_id"]).json
    assert rec["card"] == d["card"]
    assert body["card"]["token"] not in json.dumps(rec)


def test_token_card_minimal(server):
    d = server.validate_ok(sample_txn(card={"token": "x"}))
    assert d["decision"] == "approve"
    assert HEX32.match(d["card"]["fingerprint"])


@pytest.mark.parametrize("c,field", [
    ({"token": "t", "bin": "42"}, "card.bin"),
    ({"token": "t", "last4": "42a2"}, "card.last4"),
    ({"token": "t", "last4": "12345"}, "card.last4"),
    ({"token": ""}, "card.token"),
])
def test_token_card_violations(server, c, field):
    err = assert_error(server.validate(sample_txn(card=c)), 422, "validation_failed")
    assert field in {d["field"] for d in err["details"]}, err


def test_decided_at_is_rfc3339_z(server):
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    d = server.validate_ok(sample_txn())
    after = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    assert before <= ts(d["decided_at"]) <= after


# ---------------------------------------------------------------- reading back


def test_get_returns_stored_record(server):
    body = sample_txn(currency="usd", amount=10 ** 15, type="authorization",
                      transaction_id="ord:1.2_3-" + unique_id(), merchant_id="M.x_y:z-1",
                      metadata={"channel": "web", "note": "ünïcødé ✓"})
    d = server.validate_ok(body)
    r = server.get_txn(body["merchant_id"], body["transaction_id"])
    assert r.status == 200, r
    rec = r.json
    assert DECISION_KEYS - {"replayed"} <= set(rec), sorted(rec)
    assert RECORD_EXTRA | {"customer", "merchant"} <= set(rec), sorted(rec)
    for k in DECISION_KEYS - {"replayed"}:
        assert rec[k] == d[k], k
    assert rec["amount"] == 10 ** 15 and isinstance(rec["amount"], int)
    assert rec["currency"] == "USD"
    assert rec["type"] == "authorization"
    assert ts(rec["occurred_at"]) == ts(DEFAULT_OCCURRED_AT)
    assert rec["customer"] == body["customer"]
    assert rec["merchant"] == body["merchant"]
    if "metadata" in rec:
        assert rec["metadata"] == body["metadata"]
    text = r.text
    assert body["card"]["number"] not in text
    assert "number" not in rec["card"]
    assert "expiry_month" not in text and "expiry_year" not in text


def test_get_without_optional_objects(server):
    body = sample_txn(customer=None, merchant=None, metadata=None)
    for k in ("customer", "merchant", "metadata"):
        del body[k]
    server.validate_ok(body)
    rec = server.get_txn(body["merchant_id"], body["transaction_id"]).json
    assert rec.get("customer") in (None, {})
    assert rec.get("merchant") in (None, {})


def test_get_occurred_at_with_offset_is_returned_in_utc(server):
    body = sample_txn(occurred_at="2026-11-24T12:00:00+02:00")
    server.validate_ok(body)
    rec = server.get_txn(body["merchant_id"], body["transaction_id"]).json
    assert ts(rec["occurred_at"]) == dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("currency,amount", [("jpy", 1500), ("KWD", 1234), ("eur", 1)])
def test_currency_upper_cased_and_amount_minor_units(server, currency, amount):
    body = sample_txn(currency=currency, amount=amount)
    server.validate_ok(body)
    rec = server.get_txn(body["merchant_id"], body["transaction_id"]).json
    assert rec["currency"] == currency.upper()
    assert rec["amount"] == amount


def test_get_missing_404(server):
    assert_error(server.get_txn("m-42", "never-" + unique_id()), 404, "not_found")
    assert_error(server.get_txn("never-" + unique_id(), "x"), 404, "not_found")


def test_get_declined_is_stored_too(server):
    body = sample_txn(card=card(make_pan("4", valid=False)))
    d = server.validate_ok(body)
    rec = server.get_txn(body["merchant_id"], body["transaction_id"]).json
    assert rec["decision"] == "decline" and rec["reasons"] == d["reasons"]


# ---------------------------------------------------------------- batch


def test_batch_order_and_mixed_results(server):
    dup = sample_txn()
    items = [
        sample_txn(),                                            # 0 approve
        sample_txn(card=card(make_pan("4", valid=False))),       # 1 decline invalid
        sample_txn(amount=-1),                                   # 2 error 422
        sample_txn(card=card(make_pan("4"), 1, 2020)),           # 3 decline expired
        42,                                                      # 4 not an object
        dup,                                                     # 5 approve
        dict(dup),                                               # 6 replay of 5
        dict(dup, amount=999),                                   # 7 conflict with 5
        minimal_item(),                                          # 8 approve (token)
    ]
    r = server.validate_batch(items)
    assert r.status == 200, r
    res = r.json["results"]
    assert set(r.json) == {"results"}
    assert len(res) == len(items)
    for i, item in enumerate(items):
        if isinstance(item, dict) and "error" not in res[i]:
            assert res[i]["transaction_id"] == item["transaction_id"], i
    assert res[0]["decision"] == "approve" and res[0]["replayed"] is False
    assert res[1]["decision"] == "decline"
    check_reason(res[1]["reasons"], {"invalid_card_number"})
    assert set(res[2]) == {"error"}
    assert res[2]["error"]["code"] == "validation_failed"
    assert ("transactions[2].amount", "out_of_range") in {(d["field"], d["issue"]) for d in res[2]["error"]["details"]}
    assert res[3]["decision"] == "decline"
    check_reason(res[3]["reasons"], {"card_expired"})
    assert res[4]["error"]["code"] == "validation_failed"
    assert any(d["field"].startswith("transactions[4]") for d in res[4]["error"]["details"])
    assert res[5]["decision"] == "approve" and res[5]["replayed"] is False
    assert res[6]["replayed"] is True and decision_part(res[6]) == decision_part(res[5])
    assert res[7]["error"]["code"] == "idempotency_conflict"
    assert res[8]["decision"] == "approve"
    for i in (0, 1, 3, 5, 8):
        assert set(res[i]) == DECISION_KEYS, res[i]
        assert server.get_txn(items[i]["merchant_id"], items[i]["transaction_id"]).status == 200
    assert server.get_txn(items[2]["merchant_id"], items[2]["transaction_id"]).status == 404
    assert server.get_txn(dup["merchant_id"], dup["transaction_id"]).json["amount"] == dup["amount"]


def compact(doc) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def test_batch_of_500_ok(server):
    m = unique_merchant("b500")
    items = [minimal_item(m, f"i{i}") for i in range(500)]
    raw = compact({"transactions": items})
    assert len(raw) <= 64 * 1024
    r = server.request("POST", "/v1/transactions/validate-batch", raw=raw, key="admin")
    assert r.status == 200, r
    res = r.json["results"]
    assert [x["transaction_id"] for x in res] == [f"i{i}" for i in range(500)]
    assert all(x["decision"] == "approve" and x["replayed"] is False for x in res)
    assert len(server.list_all(merchant_id=m)) == 500


def test_batch_of_501_rejected(server):
    m = unique_merchant("b501")
    items = [minimal_item(m, f"i{i}") for i in range(501)]
    raw = compact({"transactions": items})
    assert len(raw) <= 64 * 1024
    r = server.request("POST", "/v1/transactions/validate-batch", raw=raw, key="admin")
    err = assert_error(r, 422, "validation_failed")
    assert {d["field"] for d in err["details"]} == {"transactions"}, err
    assert err["details"][0]["issue"] in ("too_many", "out_of_range"), err
    assert server.list_txns(merchant_id=m).json["items"] == []


@pytest.mark.parametrize("body,field", [
    ({}, "transactions"),
    ({"transactions": {"a": 1}}, "transactions"),
    ({"transactions": "x"}, "transactions"),
])
def test_batch_envelope_errors(server, body, field):
    err = assert_error(server.request("POST", "/v1/transactions/validate-batch", body, key="admin"), 422,
                       "validation_failed")
    assert field in {d["field"] for d in err["details"]}


def test_batch_counts_decisions(server):
    before = server.metric("txv_decisions_total")
    items = [sample_txn() for _ in range(3)] + [sample_txn(amount=0)]
    r = server.validate_batch(items)
    assert r.status == 200
    assert server.metric("txv_decisions_total") - before == 3


# ---------------------------------------------------------------- listing


@pytest.fixture(scope="module")
def listed(server):
    """A merchant with 23 transactions created in order (every third declined)."""
    m = unique_merchant("list")
    ids = []
    for i in range(23):
        pan = make_pan("4", valid=(i % 3 != 0))
        body = sample_txn(merchant_id=m, transaction_id=f"L{i:03d}", card=card(pan))
        server.validate_ok(body)
        ids.append(body["transaction_id"])
    return m, ids


def test_list_newest_first(server, listed):
    m, ids = listed
    r = server.list_txns(merchant_id=m, limit=500)
    assert r.status == 200
    doc = r.json
    assert set(doc) == {"items", "next_cursor"}
    assert [it["transaction_id"] for it in doc["items"]] == ids[::-1]
    assert doc["next_cursor"] is None
    it = doc["items"][0]
    assert RECORD_EXTRA <= set(it) and it["merchant_id"] == m
    assert "number" not in it["card"]


def test_list_filter_decision(server, listed):
    m, ids = listed
    dec = server.list_all(merchant_id=m, decision="decline")
    app = server.list_all(merchant_id=m, decision="approve")
    assert [it["transaction_id"] for it in dec] == [t for i, t in enumerate(ids) if i % 3 == 0][::-1]
    assert [it["transaction_id"] for it in app] == [t for i, t in enumerate(ids) if i % 3 != 0][::-1]
    assert all(it["decision"] == "decline" for it in dec)
    assert server.list_all(merchant_id=m, decision="review") == []


def test_list_since_until(server, listed):
    m, ids = listed
    assert len(server.list_all(merchant_id=m, since="2000-01-01T00:00:00Z")) == len(ids)
    assert server.list_all(merchant_id=m, since="2100-01-01T00:00:00Z") == []
    assert server.list_all(merchant_id=m, until="2000-01-01T00:00:00Z") == []
    assert len(server.list_all(merchant_id=m, until="2100-01-01T00:00:00Z")) == len(ids)
    both = server.list_all(merchant_id=m, since="2000-01-01T00:00:00Z", until="2100-01-01T00:00:00Z",
                           decision="decline")
    assert len(both) == len([i for i in range(len(ids)) if i % 3 == 0])


def test_list_unknown_merchant_empty(server):
    r = server.list_txns(merchant_id="nobody-" + unique_id())
    assert r.status == 200 and r.json == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("limit", [1, 5, 7, 22, 23])
def test_list_paging_no_gaps_no_duplicates(server, listed, limit):
    m, ids = listed
    seen = []
    cursor = None
    pages = 0
    while True:
        r = server.list_txns(merchant_id=m, limit=limit, cursor=cursor)
        assert r.status == 200, r
        doc = r.json
        assert len(doc["items"]) <= limit
        seen.extend(it["transaction_id"] for it in doc["items"])
        pages += 1
        assert pages <= len(ids) + 2
        cursor = doc["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
    assert seen == ids[::-1]


def test_list_paging_stable_under_concurrent_inserts(server):
    m = unique_merchant("stable")
    n = 30
    ids = []
    for i in range(n):
        b = sample_txn(merchant_id=m, transaction_id=f"S{i:03d}")
        server.validate_ok(b)
        ids.append(b["transaction_id"])
    stop = threading.Event()
    inserted = []

    def writer():
        k = 0
        while not stop.is_set() and k < 200:
            b = sample_txn(merchant_id=m, transaction_id=f"N{k:03d}")
            r = server.validate(b)
            assert r.status == 200
            inserted.append(b["transaction_id"])
            k += 1

    t = threading.Thread(target=writer)
    seen = []
    cursor = None
    # First page before the writer starts; the rest while it inserts.
    r = server.list_txns(merchant_id=m, limit=4)
    first = [it["transaction_id"] for it in r.json["items"]]
    seen.extend(first)
    cursor = r.json["next_cursor"]
    t.start()
    try:
        while cursor is not None:
            # Also insert synchronously between pages so the interleaving is certain.
            b = sample_txn(merchant_id=m, transaction_id="X" + unique_id())
            server.validate_ok(b)
            r = server.list_txns(merchant_id=m, limit=4, cursor=cursor)
            assert r.status == 200, r
            seen.extend(it["transaction_id"] for it in r.json["items"])
            cursor = r.json["next_cursor"]
    finally:
        stop.set()
        t.join(timeout=60)
    assert first == ids[::-1][:4]
    assert seen == ids[::-1], "paging saw duplicates, gaps or new rows"
    # The new rows are listed first in a fresh listing.
    fresh = [it["transaction_id"] for it in server.list_all(merchant_id=m)]
    assert len(fresh) == len(set(fresh))
    assert set(ids) | set(inserted) <= set(fresh)
    assert len(fresh) > n
    assert fresh[-n:] == ids[::-1]


def test_list_default_limit_50(server):
    m = unique_merchant("dflt")
    items = [minimal_item(m, f"d{i}") for i in range(55)]
    assert server.validate_batch(items).status == 200
    r = server.list_txns(merchant_id=m)
    assert r.status == 200
    assert len(r.json["items"]) == 50
    assert r.json["next_cursor"]
    r2 = server.list_txns(merchant_id=m, cursor=r.json["next_cursor"])
    assert [it["transaction_id"] for it in r2.json["items"]] == [f"d{i}" for i in range(4, -1, -1)]
    assert r2.json["next_cursor"] is None


def test_list_limit_500_allowed(server):
    r = server.list_txns(limit=500)
    assert r.status == 200 and len(r.json["items"]) <= 500


def test_list_exact_fit_cursor_leads_to_empty_page(server):
    m = unique_merchant("fit")
    for i in range(3):
        server.validate_ok(sample_txn(merchant_id=m, transaction_id=f"f{i}"))
    r = server.list_txns(merchant_id=m, limit=3)
    assert [it["transaction_id"] for it in r.json["items"]] == ["f2", "f1", "f0"]
    if r.json["next_cursor"] is not None:
        r2 = server.list_txns(merchant_id=m, limit=3, cursor=r.json["next_cursor"])
        assert r2.json == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("params,field,issue", [
    ({"limit": "0"}, "limit", None),
    ({"limit": "501"}, "limit", None),
    ({"limit": "-1"}, "limit", None),
    ({"limit": "abc"}, "limit", None),
    ({"limit": "5.5"}, "limit", None),
    ({"limit": ""}, "limit", None),
    ({"decision": "maybe"}, "decision", None),
    ({"decision": "APPROVE"}, "decision", None),
    ({"since": "yesterday"}, "since", None),
    ({"until": "2026-13-01T00:00:00Z"}, "until", None),
    ({"cursor": "garbage!"}, "cursor", None),
    ({"resolved": "maybe"}, "resolved", None),
    ({"foo": "1"}, "foo", "unknown_field"),
    ({"merchant": "m-42"}, "merchant", "unknown_field"),
])
def test_list_query_errors(server, params, field, issue):
    err = assert_error(server.list_txns(**params), 422, "validation_failed")
    assert field in {d["field"] for d in err["details"]}, err
    if issue:
        assert (field, issue) in {(d["field"], d["issue"]) for d in err["details"]}


def test_list_query_errors_all_at_once(server):
    err = assert_error(server.list_txns(limit="0", decision="x", since="y", foo="z"), 422, "validation_failed")
    assert {"limit", "decision", "since", "foo"} <= {d["field"] for d in err["details"]}, err


def test_review_queue_query_accepted(server):
    r = server.list_txns(decision="review", resolved="false")
    assert r.status == 200, r
    assert all(it["decision"] == "review" and "resolution" not in it for it in r.json["items"])


# ---------------------------------------------------------------- idempotency


def test_replay_same_json_other_key_order_and_spacing(server):
    body = sample_txn()
    first = server.validate(body)
    assert first.status == 200 and first.json["replayed"] is False
    before = server.metric("txv_decisions_total")
    # Reverse the key order at every level and use different spacing.

    def reorder(v):
        if isinstance(v, dict):
            return {k: reorder(v[k]) for k in reversed(list(v))}
        return v
    raw = json.dumps(reorder(body), indent=3, separators=(" ,  ", " :\t")).encode()
    second = server.request("POST", "/v1/transactions/validate", raw=raw, key="admin")
    assert second.status == 200, second
    assert second.json["replayed"] is True
    assert decision_part(second.json) == decision_part(first.json)
    # Escaped spelling of the same strings is the same JSON value.
    esc = json.dumps(body, ensure_ascii=True).replace('"web"', '"w\\u0065b"').encode()
    assert esc != json.dumps(body).encode()
    third = server.request("POST", "/v1/transactions/validate", raw=esc, key="admin")
    assert third.status == 200 and third.json["replayed"] is True, third
    assert server.metric("txv_decisions_total") == before


def test_replay_of_decline(server):
    body = sample_txn(card=card(make_pan("4", valid=False)))
    a = server.validate_ok(body)
    b = server.validate_ok(body)
    assert a["decision"] == b["decision"] == "decline"
    assert b["replayed"] is True and decision_part(a) == decision_part(b)


def test_replay_via_other_role_and_batch(server):
    body = sample_txn()
    a = server.validate_ok(body, key="admin")
    b = server.validate_ok(body, key="validator")
    assert b["replayed"] is True and decision_part(a) == decision_part(b)
    r = server.validate_batch([body])
    assert r.json["results"][0]["replayed"] is True
    assert decision_part(r.json["results"][0]) == decision_part(a)


@pytest.mark.parametrize("change", [
    {"amount": 12551},
    {"currency": "EUR"},
    {"metadata": {"channel": "pos"}},
    {"metadata": {"channel": "web", "extra": "1"}},
    {"customer": {"id": "c-8"}},
    {"type": "refund"},
    {"occurred_at": "2026-11-24T10:00:01Z"},
    {"card": {"number": "5555555555554444", "expiry_month": 12, "expiry_year": 2030}},
])
def test_conflict_on_different_body(server, change):
    body = sample_txn()
    first = server.validate_ok(body)
    before = server.metric("txv_decisions_total")
    r = server.validate(dict(body, **change))
    assert_error(r, 409, "idempotency_conflict")
    rec = server.get_txn(body["merchant_id"], body["transaction_id"]).json
    assert rec["amount"] == body["amount"] and rec["decided_at"] == first["decided_at"]
    assert server.metric("txv_decisions_total") == before
    # The original is still replayable after the conflict.
    assert server.validate_ok(body)["replayed"] is True


def test_same_transaction_id_other_merchant_is_independent(server):
    tid = unique_id()
    a = server.validate_ok(sample_txn(transaction_id=tid, merchant_id="m-a"))
    b = server.validate_ok(sample_txn(transaction_id=tid, merchant_id="m-b", amount=1))
    assert a["replayed"] is False and b["replayed"] is False


def test_rejected_request_does_not_reserve_the_key(server):
    body = sample_txn()
    assert server.validate(dict(body, amount=-1)).status == 422
    assert server.validate_ok(body)["replayed"] is False


def _concurrent(server, bodies, key="admin"):
    barrier = threading.Barrier(len(bodies))

    def one(b):
        barrier.wait(timeout=60)
        return server.request("POST", "/v1/transactions/validate", b, key=key, fresh=True)

    with cf.ThreadPoolExecutor(len(bodies)) as ex:
        return list(ex.map(one, bodies))


@pytest.mark.slow
def test_concurrent_identical_requests_decide_once(server):
    n = scaled(100, 40)
    body = sample_txn()
    before_total = server.metric("txv_decisions_total")
    before_approve = server.metric("txv_decisions_total", {"decision": "approve"})
    results = _concurrent(server, [body] * n)
    assert [r.status for r in results] == [200] * n, [r for r in results if r.status != 200][:3]
    docs = [r.json for r in results]
    assert sum(1 for d in docs if d["replayed"] is False) == 1
    assert sum(1 for d in docs if d["replayed"] is True) == n - 1
    parts = {json.dumps(decision_part(d), sort_keys=True) for d in docs}
    assert len(parts) == 1, parts
    assert server.metric("txv_decisions_total") - before_total == 1
    assert server.metric("txv_decisions_total", {"decision": "approve"}) - before_approve == 1
    rows = server.list_all(merchant_id=body["merchant_id"])
    assert sum(1 for it in rows if it["transaction_id"] == body["transaction_id"]) == 1


@pytest.mark.slow
def test_concurrent_conflicting_requests(server):
    n = scaled(60, 20)
    a = sample_txn()
    b = dict(a, amount=a["amount"] + 1)
    bodies = [a if i % 2 == 0 else b for i in range(n)]
    before = server.metric("txv_decisions_total")
    results = _concurrent(server, bodies)
    winner = server.get_txn(a["merchant_id"], a["transaction_id"]).json
    win_body = a if winner["amount"] == a["amount"] else b
    fresh = 0
    for body, r in zip(bodies, results):
        if body is win_body:
            assert r.status == 200, r
            fresh += r.json["replayed"] is False
        else:
            assert_error(r, 409, "idempotency_conflict")
    assert fresh == 1
    assert server.metric("txv_decisions_total") - before == 1


@pytest.mark.slow
def test_concurrent_distinct_requests_all_stored(server):
    n = scaled(64, 24)
    m = unique_merchant("conc")
    bodies = [sample_txn(merchant_id=m, card=card(make_pan("4"))) for _ in range(n)]
    before = server.metric("txv_decisions_total")
    results = _concurrent(server, bodies)
    assert all(r.status == 200 and r.json["replayed"] is False for r in results)
    assert server.metric("txv_decisions_total") - before == n
    stored = {it["transaction_id"] for it in server.list_all(merchant_id=m)}
    assert stored == {b["transaction_id"] for b in bodies}


# ---------------------------------------------------------------- resolution


def test_resolution_missing_404(server):
    for key in ("admin", "analyst"):
        r = server.resolve("m-42", "missing-" + unique_id(), {"decision": "approve", "note": "n"}, key=key)
        assert_error(r, 404, "not_found")


@pytest.mark.parametrize("bad_card", [False, True])
def test_resolution_non_review_409(server, bad_card):
    body = sample_txn(card=card(make_pan("4", valid=not bad_card)))
    d = server.validate_ok(body)
    assert d["decision"] == ("decline" if bad_card else "approve")
    r = server.resolve(body["merchant_id"], body["transaction_id"], {"decision": "approve", "note": "n"})
    assert_error(r, 409, "not_reviewable")
    rec = server.get_txn(body["merchant_id"], body["transaction_id"]).json
    assert "resolution" not in rec or rec["resolution"] is None


@pytest.mark.parametrize("body,field,issue", [
    ({}, "decision", "required"),
    ({"note": "x"}, "decision", "required"),
    ({"decision": "review"}, "decision", None),
    ({"decision": "maybe"}, "decision", None),
    ({"decision": 1}, "decision", None),
    ({"decision": "approve", "note": 5}, "note", "invalid_type"),
    ({"decision": "approve", "by": "me"}, "by", "unknown_field"),
])
def test_resolution_validation(server, body, field, issue):
    r = server.resolve("m-42", "whatever", body)
    err = assert_error(r, 422, "validation_failed")
    got = {(d["field"], d["issue"]) for d in err["details"]}
    assert field in {f for f, _ in got}, got
    if issue:
        assert (field, issue) in got


def test_resolution_body_not_object(server):
    assert_error(server.resolve("m-42", "whatever", ["approve"]), 422, "validation_failed")


def _insert_review_row(srv, merchant: str, source_tid: str, new_tid: str) -> None:
    """Copies a stored row as a `review` decision (the server must be stopped)."""
    con = srv.db()
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(transactions)") if r[1] != "seq"]
        select = []
        for c in cols:
            if c == "transaction_id":
                select.append("?")
            elif c == "decision":
                select.append("'review'")
            elif c == "reasons":
                select.append("'[{\"code\":\"manual_review\",\"source\":\"rule\",\"rule_id\":\"r-1\",\"action\":\"review\"}]'")
            else:
                select.append(c)
        con.execute(f"INSERT INTO transactions ({', '.join(cols)}) SELECT {', '.join(select)} FROM transactions "
                    "WHERE merchant_id = ? AND transaction_id = ?", (new_tid, merchant, source_tid))
        con.commit()
        assert con.execute("SELECT count(*) FROM transactions WHERE transaction_id = ?", (new_tid,)).fetchone()[0] == 1
    finally:
        con.close()


def test_resolve_a_real_review(make_server):
    """A review row inserted directly into SQLite (rules that produce reviews arrive with issue 4)."""
    srv = make_server()
    m = unique_merchant("rev")
    src = sample_txn(merchant_id=m)
    srv.validate_ok(src)
    srv.stop()
    _insert_review_row(srv, m, src["transaction_id"], "rev-1")
    _insert_review_row(srv, m, src["transaction_id"], "rev-2")
    srv.start()

    rec = srv.get_txn(m, "rev-1").json
    assert rec["decision"] == "review"
    queue = srv.list_all(decision="review", resolved="false")
    assert {it["transaction_id"] for it in queue} == {"rev-1", "rev-2"}

    r = srv.resolve(m, "rev-1", {"decision": "decline", "note": "stolen card"}, key="analyst")
    assert r.status == 200, r
    res = r.json["resolution"]
    assert set(res) == {"decision", "note", "by", "at"}
    assert res["decision"] == "decline" and res["note"] == "stolen card"
    assert res["by"] == srv.key_names["analyst"]
    ts(res["at"])
    stored = srv.get_txn(m, "rev-1").json
    assert stored["resolution"] == res
    assert stored["decision"] == "review"  # the original decision is kept

    # Only once.
    assert_error(srv.resolve(m, "rev-1", {"decision": "approve", "note": "x"}, key="admin"), 409, "not_reviewable")
    assert_error(srv.resolve(m, "rev-1", {"decision": "decline", "note": "stolen card"}, key="analyst"), 409,
                 "not_reviewable")
    assert srv.get_txn(m, "rev-1").json["resolution"] == res

    queue = srv.list_all(decision="review", resolved="false")
    assert [it["transaction_id"] for it in queue] == ["rev-2"]
    done = srv.list_all(decision="review", resolved="true")
    assert [it["transaction_id"] for it in done] == ["rev-1"]

    # Admin may resolve too; a note is optional.
    r = srv.resolve(m, "rev-2", {"decision": "approve"}, key="admin")
    assert r.status == 200, r
    assert r.json["resolution"]["by"] == srv.key_names["admin"]
    assert srv.list_all(decision="review", resolved="false") == []


@pytest.mark.slow
def test_concurrent_resolution_only_once(make_server):
    srv = make_server()
    m = unique_merchant("rev")
    src = sample_txn(merchant_id=m)
    srv.validate_ok(src)
    srv.stop()
    _insert_review_row(srv, m, src["transaction_id"], "race")
    srv.start()
    n = scaled(20, 8)
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait(timeout=60)
        return srv.request("POST", f"/v1/transactions/{m}/race/resolution",
                           {"decision": "approve" if i % 2 else "decline", "note": f"n{i}"}, key="analyst",
                           fresh=True)

    with cf.ThreadPoolExecutor(n) as ex:
        results = list(ex.map(one, range(n)))
    ok = [r for r in results if r.status == 200]
    assert len(ok) == 1, [r.status for r in results]
    for r in results:
        if r.status != 200:
            assert_error(r, 409, "not_reviewable")
    assert srv.get_txn(m, "race").json["resolution"] == ok[0].json["resolution"]
