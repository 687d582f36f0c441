"""The read endpoints of the analyst console, through the real binary: GET /v1/transactions
with `order` and amount filters, a transaction's label history, a list's entries paged by
value with a prefix search, and the dashboard's GET /v1/stats (exact counts from the
database, this replica's latency, the 5 s cache). Both back-ends (TXV_E2E_BACKEND)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlencode

import pytest

from txvtest import RFC3339_Z, assert_error, sample_txn, unique_id, unique_merchant


def get(srv, path: str, key: str = "analyst", **params):
    q = urlencode({k: v for k, v in params.items() if v is not None})
    return srv.request("GET", path + (f"?{q}" if q else ""), key=key)


def parse_time(text: str) -> datetime:
    assert RFC3339_Z.match(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def validated(srv, merchant: str, amounts: list[int]) -> list[str]:
    """Validates one transaction per amount, in order; their transaction ids."""
    ids = []
    for amount in amounts:
        txn = sample_txn(merchant_id=merchant, amount=amount)
        srv.validate_ok(txn)
        ids.append(txn["transaction_id"])
    return ids


def all_pages(srv, path: str, limit: int, key: str = "analyst", **params) -> list:
    """Every item of a paged listing, following next_cursor."""
    items, cursor = [], None
    for _ in range(10000):
        r = get(srv, path, key=key, limit=limit, cursor=cursor, **params)
        assert r.status == 200, r
        assert len(r.json["items"]) <= limit
        items.extend(r.json["items"])
        cursor = r.json["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("too many pages")


# ============================================================== transactions: order and amounts


def test_oldest_first_pages_ascending_and_stays_stable_under_inserts(server):
    m = unique_merchant("ord")
    ids = validated(server, m, [100, 200, 300, 400, 500, 600, 700])

    newest = all_pages(server, "/v1/transactions", 3, merchant_id=m)
    assert [t["transaction_id"] for t in newest] == ids[::-1]
    assert [t["transaction_id"] for t in all_pages(server, "/v1/transactions", 3, merchant_id=m, order="newest")] \
        == ids[::-1]

    # Oldest first, with a decision arriving between two pages: it comes last, and every item once.
    r = get(server, "/v1/transactions", merchant_id=m, order="oldest", limit=3)
    assert r.status == 200, r
    listed = [t["transaction_id"] for t in r.json["items"]]
    assert listed == ids[:3]
    late = validated(server, m, [800])
    cursor = r.json["next_cursor"]
    while cursor is not None:
        r = get(server, "/v1/transactions", merchant_id=m, order="oldest", limit=3, cursor=cursor)
        assert r.status == 200, r
        listed += [t["transaction_id"] for t in r.json["items"]]
        cursor = r.json["next_cursor"]
    assert listed == ids + late


def test_amount_filters_are_inclusive_and_combine(server):
    m = unique_merchant("amt")
    ids = validated(server, m, [100, 200, 300, 400, 500])

    def listed(**params):
        return [t["transaction_id"] for t in all_pages(server, "/v1/transactions", 50, merchant_id=m, **params)]
    assert listed(min_amount=300) == ids[4:1:-1]
    assert listed(max_amount=200) == ids[1::-1]
    assert listed(min_amount=200, max_amount=400) == ids[3:0:-1]
    assert listed(min_amount=200, max_amount=400, order="oldest") == ids[1:4]
    assert listed(min_amount=300, max_amount=300) == [ids[2]]
    assert listed(min_amount=501) == []
    for t in all_pages(server, "/v1/transactions", 50, merchant_id=m, min_amount=250):
        assert t["amount"] >= 250


def test_the_review_queue_oldest_first(server):
    m = unique_merchant("rq")
    rule = server.create_rule({"name": unique_id("rq"), "expression": f"merchant_id == '{m}' && amount >= 1000",
                               "action": "review", "code": "manual_check"})
    assert rule.status == 201, rule
    try:
        ids = validated(server, m, [1000, 50, 2000, 3000, 4000, 5000])
        reviews = [ids[0]] + ids[2:]
        r = server.resolve(m, ids[2], {"decision": "approve", "note": "ok"})
        assert r.status == 200, r
        queue = all_pages(server, "/v1/transactions", 2, merchant_id=m, decision="review", resolved="false",
                          order="oldest")
        assert [t["transaction_id"] for t in queue] == [reviews[0]] + reviews[2:]
        assert all(t["decision"] == "review" and "resolution" not in t for t in queue)
        big = all_pages(server, "/v1/transactions", 2, merchant_id=m, resolved="false", order="oldest",
                        min_amount=3500)
        assert [t["transaction_id"] for t in big] == ids[4:]
    finally:
        server.request("DELETE", f"/v1/rules/{rule.json['id']}", key="admin")


def test_bad_order_and_amounts_are_422_naming_the_parameter(server):
    r = get(server, "/v1/transactions", order="sideways")
    assert_error(r, 422, "validation_failed", [("order", "invalid_value")])
    r = get(server, "/v1/transactions", min_amount="abc", max_amount="-1")
    assert_error(r, 422, "validation_failed", [("min_amount", "invalid_value"), ("max_amount", "invalid_value")],
                 exact_details=True)
    for bad in ("1.5", "", " 5", "1e3", "+5", "1000000000000001"):
        assert_error(get(server, "/v1/transactions", min_amount=bad), 422, "validation_failed",
                     [("min_amount", "invalid_value")])
    assert_error(get(server, "/v1/transactions", sort="oldest"), 422, "validation_failed",
                 [("sort", "unknown_field")])


# ============================================================== label history


def labels_path(m: str, t: str) -> str:
    return f"/v1/transactions/{quote(m, safe='')}/{quote(t, safe='')}/labels"


def test_label_history_is_oldest_first_as_post_answered(server):
    m = unique_merchant("lh")
    (t,) = validated(server, m, [1234])
    r = get(server, labels_path(m, t))
    assert r.status == 200, r
    assert r.json == {"items": []}

    posted = []
    for body, key in [({"label": "fraud", "source": "chargeback", "reason": "cb 4837", "at": "2026-11-26T10:00:00Z"},
                       "analyst"),
                      ({"label": "not_fraud", "source": "issuer_alert", "at": "2026-11-25T10:00:00Z"}, "admin"),
                      ({"label": "fraud", "source": "manual"}, "analyst")]:  # at: now
        p = server.label(m, t, body, key=key)
        assert p.status == 201, p
        posted.append(p.json)
    r = get(server, labels_path(m, t), key="admin")
    assert r.status == 200, r
    assert r.json == {"items": [posted[1], posted[0], posted[2]]}
    assert set(posted[1]) == {"merchant_id", "transaction_id", "label", "source", "at", "by"}


def test_label_history_errors(server):
    m = unique_merchant("lhe")
    (t,) = validated(server, m, [99])
    assert_error(get(server, labels_path(m, "no-such-txn")), 404, "not_found")
    assert_error(get(server, labels_path(unique_merchant("nobody"), t)), 404, "not_found")
    assert_error(get(server, labels_path(m, t), key="validator"), 403, "forbidden")
    assert_error(get(server, labels_path(m, t), key=None), 401, "unauthorized")
    assert_error(get(server, labels_path(m, t), limit=5), 422, "validation_failed", [("limit", "unknown_field")])


# ============================================================== list entries


def test_list_entries_page_by_value_with_a_prefix(server):
    name = "console_" + unique_id("l").replace("-", "_")
    entries = ([f"ab-{i:04d}" for i in range(500)] + [f"Ab-{i:04d}" for i in range(200)]
               + [f"abc{i:03d}" for i in range(150)] + [f"b-{i:04d}" for i in range(345)]
               + ["a", "ab", "\u00e9t\u00e9", "\u00e9", "zz"])
    assert len(entries) == 1200
    r = server.put_list(name, entries)
    assert r.status == 200, r
    path = f"/v1/lists/{name}/entries"

    pages = []
    items, cursor = [], None
    while True:
        r = get(server, path, q="ab", limit=37, cursor=cursor)
        assert r.status == 200, r
        assert set(r.json) == {"items", "next_cursor", "total"}
        assert r.json["total"] == 1200
        pages.append(len(r.json["items"]))
        items += r.json["items"]
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
    expected = sorted(e for e in entries if e.startswith("ab"))
    assert items == expected  # every entry once, in order
    assert len(expected) == 651 and pages[:-1] == [37] * (len(pages) - 1)

    assert all_pages(server, path, 500) == sorted(entries)
    assert all_pages(server, path, 50, q="Ab-") == sorted(e for e in entries if e.startswith("Ab-"))
    assert all_pages(server, path, 50, q="\u00e9") == ["\u00e9", "\u00e9t\u00e9"]
    assert all_pages(server, path, 50, q="nothing") == []
    r = get(server, path)  # default limit 50
    assert r.status == 200 and len(r.json["items"]) == 50 and r.json["items"] == sorted(entries)[:50], r

    # Keyset paging: an entry added before the cursor is not seen, one after it is, none twice.
    r = get(server, path, q="b-", limit=100)
    first = r.json["items"]
    assert server.request("POST", f"/v1/lists/{name}/entries", {"entries": ["b-0000a", "b-9999"]},
                          key="admin").status == 200
    items, cursor = list(first), r.json["next_cursor"]
    while cursor is not None:
        r = get(server, path, q="b-", limit=100, cursor=cursor)
        assert r.status == 200 and r.json["total"] == 1202, r
        items += r.json["items"]
        cursor = r.json["next_cursor"]
    assert items == sorted(e for e in entries if e.startswith("b-")) + ["b-9999"]


def test_list_entries_errors(server):
    name = "console_" + unique_id("e").replace("-", "_")
    assert server.put_list(name, ["x", "y"]).status == 200
    path = f"/v1/lists/{name}/entries"
    assert_error(get(server, "/v1/lists/no_such_list_here/entries"), 404, "not_found")
    assert_error(get(server, path, key="validator"), 403, "forbidden")
    assert_error(get(server, path, limit=0), 422, "validation_failed", [("limit", "out_of_range")])
    assert_error(get(server, path, limit=501), 422, "validation_failed", [("limit", "out_of_range")])
    assert_error(get(server, path, cursor="c12"), 422, "validation_failed", [("cursor", "invalid_format")])
    assert_error(get(server, path, cursor="vzz"), 422, "validation_failed", [("cursor", "invalid_format")])
    assert_error(get(server, path, q="x" * 257), 422, "validation_failed", [("q", "too_long")])
    assert_error(server.request("GET", path + "?q=%FF", key="analyst"), 422, "validation_failed",
                 [("q", "invalid_value")])
    assert_error(get(server, path, prefix="x"), 422, "validation_failed", [("prefix", "unknown_field")])
    r = get(server, path, limit=1, key="admin")
    assert r.status == 200 and r.json["items"] == ["x"] and r.json["next_cursor"], r


# ============================================================== stats


def check_buckets(doc: dict, window: str, count: int, width: int) -> None:
    assert doc["window"] == window and doc["bucket_seconds"] == width
    buckets = doc["buckets"]
    assert len(buckets) == count
    since, until = parse_time(doc["since"]), parse_time(doc["until"])
    starts = [parse_time(b["at"]) for b in buckets]
    assert starts[0] == since
    assert all(b - a == timedelta(seconds=width) for a, b in zip(starts, starts[1:]))
    assert all(s.timestamp() % width == 0 for s in starts)
    assert starts[-1] <= until < starts[-1] + timedelta(seconds=width)
    assert abs(until - datetime.now(timezone.utc)) < timedelta(seconds=60)
    for key in ("approve", "decline", "review"):
        assert sum(b[key] for b in buckets) == doc["totals"][key]
    t = doc["totals"]
    assert t["total"] == t["approve"] + t["decline"] + t["review"]


def test_stats_count_exactly_what_was_decided(make_server):
    srv = make_server()
    big = srv.create_rule({"name": "big", "expression": "amount > 50000", "action": "decline", "code": "too_big"})
    assert big.status == 201, big
    mid = srv.create_rule({"name": "mid", "expression": "amount > 20000", "action": "review", "code": "mid",
                           "mode": "shadow"})
    assert mid.status == 201, mid
    odd = srv.create_rule({"name": "odd", "expression": "amount == 777", "action": "review", "code": "odd"})
    assert odd.status == 201, odd
    m = unique_merchant("st")
    validated(srv, m, [60000] * 10 + [30000] * 5 + [1000] * 12 + [777] * 3)
    # A replay is no new decision.
    txn = sample_txn(merchant_id=m, amount=1000)
    srv.validate_ok(txn)
    assert srv.validate_ok(txn)["replayed"] is True

    r = get(srv, "/v1/stats")
    assert r.status == 200, r
    doc = r.json
    assert set(doc) == {"window", "since", "until", "bucket_seconds", "buckets", "totals", "decline_rate",
                        "review_rate", "rules", "latency"}
    check_buckets(doc, "1h", 60, 60)
    assert doc["totals"] == {"approve": 18, "decline": 10, "review": 3, "total": 31}
    assert doc["decline_rate"] == pytest.approx(10 / 31)
    assert doc["review_rate"] == pytest.approx(3 / 31)
    assert doc["rules"] == [{"rule_id": mid.json["id"], "mode": "shadow", "matches": 15},
                            {"rule_id": big.json["id"], "mode": "enforce", "matches": 10},
                            {"rule_id": odd.json["id"], "mode": "enforce", "matches": 3}]
    lat = doc["latency"]
    assert lat["scope"] == "replica" and lat["count"] == 32  # every answered validation, the replay too
    assert 0 < lat["p50_ms"] <= lat["p99_ms"] < 60000

    day = get(srv, "/v1/stats", key="admin", window="24h")
    assert day.status == 200, day
    check_buckets(day.json, "24h", 288, 300)
    assert day.json["totals"] == doc["totals"] and day.json["rules"] == doc["rules"]
    assert day.json["latency"]["count"] == 32


def test_stats_answers_are_cached_for_5_seconds(make_server):
    srv = make_server()
    m = unique_merchant("sc")
    validated(srv, m, [100])
    started = time.monotonic()
    first = get(srv, "/v1/stats")
    assert first.status == 200 and first.json["totals"]["total"] == 1, first
    validated(srv, m, [200])
    again = get(srv, "/v1/stats")
    if time.monotonic() - started < 4.5:
        assert again.json == first.json  # the same answer, `until` included
    fresh = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        fresh = get(srv, "/v1/stats")
        if fresh.json["totals"]["total"] == 2:
            break
        time.sleep(0.5)
    assert fresh.json["totals"]["total"] == 2, fresh
    assert time.monotonic() - started >= 4.5  # not before the cached answer expired
    assert parse_time(fresh.json["until"]) > parse_time(first.json["until"])


def test_stats_roles_and_errors(server):
    assert_error(get(server, "/v1/stats", key="validator"), 403, "forbidden")
    assert_error(get(server, "/v1/stats", key=None), 401, "unauthorized")
    for bad in ("2h", "1H", "", "7d"):
        assert_error(get(server, "/v1/stats", window=bad), 422, "validation_failed", [("window", "invalid_value")],
                     exact_details=True)
    assert_error(get(server, "/v1/stats", since="2026-01-01T00:00:00Z"), 422, "validation_failed",
                 [("since", "unknown_field")])
    assert get(server, "/v1/stats", key="admin", window="1h").status == 200
