"""Section 6b (audit log) through the real binary."""

from __future__ import annotations

import json

import pytest

from rulestest import (AUDIT_FIELDS, audit_all, create_rule_ok, entry_path, list_path, newest_audit, rule_body,
                       rule_path, unique_name)
from txvtest import RFC3339_Z, assert_error, sample_txn, unique_merchant


def assert_entry_shape(e):
    assert isinstance(e, dict) and set(e) == AUDIT_FIELDS, e
    assert type(e["id"]) in (int, str), e
    assert RFC3339_Z.match(e["at"]), e
    for k in ("actor", "action", "object_type", "object_id"):
        assert isinstance(e[k], str) and e[k], (k, e)
    return e


def total_entries(srv):
    return len(audit_all(srv))


def sort_key(e):
    return int(e["id"]) if isinstance(e["id"], int) or str(e["id"]).isdigit() else e["id"]


# ============================================================== every kind of change


def test_every_kind_of_change_in_order(server):
    admin, analyst = server.key_names["admin"], server.key_names["analyst"]
    m = unique_merchant("aud")
    lname = unique_name("audlist")

    rule = create_rule_ok(server, f"merchant_id == '{m}' && amount > 0", "review", "aud_review")
    txn = sample_txn(merchant_id=m)
    assert server.validate_ok(txn)["decision"] == "review"
    r = server.request("PUT", rule_path(rule["id"]),
                       rule_body(f"merchant_id == '{m}' && amount > 1", "review", "aud_review2"), key="admin")
    assert r.status == 200, r
    updated = {k: v for k, v in r.json.items() if k != "warnings"}  # the answer's analysis (section 12)
    assert server.put_list(lname, ["a", "b"]).status == 200
    assert server.put_list(lname, ["b", "c"]).status == 200
    assert server.request("POST", list_path(lname) + "/entries", {"entries": ["d", "b"]}, key="admin").status == 200
    assert server.request("DELETE", entry_path(lname, "c"), key="admin").status == 200
    res = server.resolve(m, txn["transaction_id"], {"decision": "decline", "note": "fraud ring"}, key="analyst")
    assert res.status == 200, res
    assert server.request("DELETE", rule_path(rule["id"]), key="admin").status == 204

    items = newest_audit(server, 8)
    for e in items:
        assert_entry_shape(e)
    ids = [sort_key(e) for e in items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 8, ids
    ats = [e["at"] for e in items]
    assert ats == sorted(ats, reverse=True), ats
    oid = f"{m}/{txn['transaction_id']}"
    seq = list(reversed(items))
    expect = [
        ("create", "rule", rule["id"], admin),
        ("update", "rule", rule["id"], admin),
        ("replace", "list", lname, admin),
        ("replace", "list", lname, admin),
        ("add_entries", "list", lname, admin),
        ("remove_entry", "list", lname, admin),
        ("resolve", "transaction", oid, analyst),
        ("delete", "rule", rule["id"], admin),
    ]
    assert [(e["action"], e["object_type"], e["object_id"], e["actor"]) for e in seq] == expect, \
        json.dumps(seq, indent=1)
    create, update, rep1, rep2, add, rem, resolve, delete = seq
    # Rules: before/after are the rule JSON.
    assert create["before"] is None and create["after"] == rule
    assert update["before"] == rule and update["after"] == updated
    assert delete["before"] == updated and delete["after"] is None
    # Lists: the entries added and removed, not the whole list.
    assert sorted(rep1["after"]["added"]) == ["a", "b"] and rep1["after"]["removed"] == []
    assert rep2["after"]["added"] == ["c"] and rep2["after"]["removed"] == ["a"]
    assert add["after"]["added"] == ["d"] and add["after"]["removed"] == []
    assert rem["after"]["added"] == [] and rem["after"]["removed"] == ["c"]
    # Bounded: counts, a digest of the new content and at most 100 of each, never the whole list.
    for e in (rep1, rep2, add, rem):
        assert set(e["after"]) == {"added", "removed", "added_count", "removed_count", "entry_count", "sha256",
                                   "truncated"}, e
        assert e["after"]["truncated"] is False
    assert (rep2["after"]["added_count"], rep2["after"]["removed_count"], rep2["after"]["entry_count"]) == (1, 1, 2)
    # Review: the resolution is recorded.
    assert resolve["after"] is not None and "decline" in json.dumps(resolve["after"]), resolve
    assert "fraud ring" in json.dumps(resolve["after"]), resolve
    assert json.dumps(resolve["before"] or {}).count("fraud ring") == 0


def test_failed_changes_and_reads_append_nothing(server):
    rule = create_rule_ok(server, "amount == 1", code="aud_nochange")
    before = audit_all(server)
    lname = unique_name("nolist")
    assert server.request("POST", "/v1/rules", rule_body("amount >"), key="admin").status == 422
    assert server.request("POST", "/v1/rules", rule_body("amount == 2", id=rule["id"]), key="admin").status == 409
    assert server.request("PUT", rule_path(unique_name("ghost")), rule_body("amount == 2"), key="admin").status == 404
    assert server.request("DELETE", rule_path(unique_name("ghost")), key="admin").status == 404
    assert server.request("POST", "/v1/rules", rule_body("amount == 2"), key="analyst").status == 403
    assert server.request("PUT", rule_path(rule["id"]), rule_body("amount == 3"), key="validator").status == 403
    assert server.request("DELETE", rule_path(rule["id"]), key=None).status == 401
    assert server.put_list(lname, [1]).status == 422
    assert server.put_list(lname, ["a"], key="analyst").status == 403
    assert server.request("DELETE", entry_path(lname, "a"), key="admin").status == 404
    assert server.request("GET", "/v1/rules", key="admin").status == 200
    assert server.request("GET", "/v1/lists", key="admin").status == 200
    assert server.validate(sample_txn()).status == 200
    m = unique_merchant("aud-nr")
    t = sample_txn(merchant_id=m)
    server.validate_ok(t)
    assert server.resolve(m, t["transaction_id"], {"decision": "approve", "note": "x"}).status == 409
    assert audit_all(server) == before
    assert server.request("DELETE", rule_path(rule["id"]), key="admin").status == 204
    assert len(audit_all(server)) == len(before) + 1


def test_actor_is_the_key_name(server):
    server.create_key("alice", "admin", name="alice-admin")
    lname = unique_name("actor")
    assert server.put_list(lname, ["x"], key="alice").status == 200
    e = newest_audit(server, 1)[0]
    assert (e["actor"], e["action"], e["object_id"]) == ("alice-admin", "replace", lname), e
    assert server.put_list(lname, ["y"], key="admin").status == 200
    e = newest_audit(server, 1)[0]
    assert e["actor"] == server.key_names["admin"] != "alice-admin", e


# ============================================================== paging and filters


@pytest.fixture(scope="module")
def paged(server):
    """A list with 23 audit entries of its own (plus one rule touched 3 times)."""
    lname = unique_name("paged")
    assert server.put_list(lname, ["e0"]).status == 200
    for i in range(1, 23):
        r = server.request("POST", list_path(lname) + "/entries", {"entries": [f"e{i}"]}, key="admin")
        assert r.status == 200, r
    rule = create_rule_ok(server, "amount == 5", code="paged_rule")
    assert server.request("PUT", rule_path(rule["id"]), rule_body("amount == 6", code="paged_rule"),
                          key="admin").status == 200
    assert server.request("DELETE", rule_path(rule["id"]), key="admin").status == 204
    return lname, rule["id"]


@pytest.mark.parametrize("limit", [1, 5, 7, 22, 23, 24])
def test_paging_no_gaps_no_duplicates(server, paged, limit):
    lname, _ = paged
    whole = server.audit(object_id=lname, limit=500).json
    assert whole["next_cursor"] is None and len(whole["items"]) == 23
    got, cursor, pages = [], None, 0
    while True:
        r = server.audit(object_id=lname, limit=limit, cursor=cursor)
        assert r.status == 200, r
        doc = r.json
        assert set(doc) == {"items", "next_cursor"}
        assert len(doc["items"]) <= limit
        got.extend(doc["items"])
        pages += 1
        cursor = doc["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
        assert len(doc["items"]) == limit
        assert pages < 100
    assert got == whole["items"]
    assert pages in (-(-23 // limit), -(-23 // limit) + 1)
    ids = [sort_key(e) for e in got]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 23
    # Newest first: the last add comes first, the initial replace last.
    assert got[0]["after"]["added"] == ["e22"] and got[-1]["action"] == "replace"


def test_paging_stable_under_new_entries(server):
    lname = unique_name("stable")
    for i in range(15):
        assert server.request("POST", list_path(lname) + "/entries", {"entries": [f"s{i}"]},
                              key="admin").status == 200
    first = server.audit(object_id=lname, limit=6).json
    assert len(first["items"]) == 6 and first["next_cursor"]
    # New entries for the same object between pages never shift the following pages.
    got = list(first["items"])
    cursor = first["next_cursor"]
    late = 0
    while cursor:
        late += 1
        extra = server.request("POST", list_path(lname) + "/entries", {"entries": [f"late{late}"]}, key="admin")
        assert extra.status == 200
        doc = server.audit(object_id=lname, limit=6, cursor=cursor).json
        got.extend(doc["items"])
        cursor = doc["next_cursor"]
    ids = [sort_key(e) for e in got]
    assert len(got) == 15 and len(set(ids)) == 15 and ids == sorted(ids, reverse=True), ids
    assert [e["after"]["added"] for e in got] == [[f"s{i}"] for i in range(14, -1, -1)]
    assert server.audit(object_id=lname, limit=1).json["items"][0]["after"]["added"] == [f"late{late}"]


def test_filters(server, paged):
    lname, rid = paged
    by_rule = audit_all(server, object_type="rule", object_id=rid)
    assert [e["action"] for e in by_rule] == ["delete", "update", "create"], by_rule
    rules_only = audit_all(server, object_type="rule")
    assert rules_only and all(e["object_type"] == "rule" for e in rules_only)
    lists_only = audit_all(server, object_type="list")
    assert lists_only and all(e["object_type"] == "list" for e in lists_only)
    assert {e["object_id"] for e in lists_only} >= {lname}
    everything = audit_all(server)
    assert len(everything) >= len(rules_only) + len(lists_only)
    assert audit_all(server, object_type="list", object_id=rid) == []
    assert audit_all(server, object_type="nothing-like-this") == []
    assert audit_all(server, object_id=unique_name("nobody")) == []
    # object_id with a slash (a transaction) is matched exactly.
    tx = [e for e in everything if e["object_type"] == "transaction"]
    if tx:
        assert audit_all(server, object_id=tx[0]["object_id"]) == [e for e in everything
                                                                   if e["object_id"] == tx[0]["object_id"]]


def test_since_filter(server, paged):
    lname, _ = paged
    items = audit_all(server, object_id=lname)
    mid = items[len(items) // 2]["at"]
    newer = audit_all(server, object_id=lname, since=mid)
    assert newer == [e for e in items if e["at"] >= mid], (mid, newer)
    assert 1 <= len(newer) < len(items)
    assert audit_all(server, since="2999-01-01T00:00:00Z") == []
    assert audit_all(server, object_id=lname, since="2000-01-01T00:00:00Z") == items


def test_default_limit_is_50(server, paged):
    lname = unique_name("fill")
    for i in range(max(0, 55 - total_entries(server))):
        assert server.put_list(lname, [f"v{i}"]).status == 200
    assert total_entries(server) > 50
    r = server.audit()
    assert r.status == 200
    assert len(r.json["items"]) == 50 and r.json["next_cursor"]
    assert server.audit(limit=500).json["items"][:50] == r.json["items"]


@pytest.mark.parametrize("params,field", [
    ({"limit": "0"}, "limit"),
    ({"limit": "501"}, "limit"),
    ({"limit": "abc"}, "limit"),
    ({"limit": "-3"}, "limit"),
    ({"since": "yesterday"}, "since"),
    ({"cursor": "garbage!"}, "cursor"),
    ({"actor": "x"}, "actor"),
])
def test_query_errors(server, params, field):
    err = assert_error(server.audit(**params), 422, "validation_failed")
    assert field in {d["field"] for d in err["details"]}, err


# ============================================================== roles and immutability


@pytest.mark.parametrize("role,status", [("admin", 200), ("analyst", 200), ("validator", 403), ("scoped", 403),
                                         (None, 401)])
def test_roles(server, paged, role, status):
    r = server.audit(key=role, limit=5)
    if status == 200:
        assert r.status == 200, r
        assert len(r.json["items"]) == 5
    else:
        assert_error(r, status, {401: "unauthorized", 403: "forbidden"}[status])


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH"])
def test_no_mutation_on_collection(server, paged, method):
    before = audit_all(server)
    body = {"items": []} if method in ("PUT", "POST", "PATCH") else None
    r = server.request(method, "/v1/audit", body, key="admin")
    assert_error(r, 405, "method_not_allowed")
    assert audit_all(server) == before


def test_405_on_audit_carries_allow_get(server):
    # RFC 9110 section 15.5.6: a 405 response MUST carry Allow; for the audit log that is GET only.
    r = server.request("DELETE", "/v1/audit", key="admin")
    assert r.status == 405, r
    allow = {m.strip().upper() for m in (r.header("allow") or "").split(",") if m.strip()}
    assert "GET" in allow and not allow & {"PUT", "POST", "DELETE", "PATCH"}, r.headers


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_no_mutation_on_entries(server, paged, method):
    before = audit_all(server)
    eid = before[0]["id"]
    body = {"actor": "someone-else"} if method in ("PUT", "PATCH") else None
    r = server.request(method, f"/v1/audit/{eid}", body, key="admin")
    assert r.status in (404, 405), r
    assert audit_all(server) == before
