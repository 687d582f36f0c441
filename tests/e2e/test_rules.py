"""Section 5 (rules) and section 3 (how rules decide), through the real binary.

Every rule that could touch another test's decision is scoped with ``merchant_id == '<fresh>'``
and deleted again at the end of its test.
"""

from __future__ import annotations

import json
import re

import pytest

from rulestest import (RULE_FIELDS, Rules, assert_invalid_expression, assert_rule_shape, create_rule_ok,
                       delete_rule_ok, fresh_customer, reason_codes, rule_body, rule_path, rules_version,
                       shadow_codes, unique_name)
from txvtest import (DROP, REPO_ROOT, assert_error, card, make_pan, sample_txn, unique_merchant)

ROLES = ("admin", "analyst", "validator", "scoped", None)


def scoped(m: str, expr: str) -> str:
    return f"merchant_id == '{m}' && ({expr})"


@pytest.fixture
def rules(server):
    with Rules(server) as r:
        yield r


# ============================================================== CRUD & versions


def test_create_get_list_with_explicit_id(server, rules):
    rid = unique_name("rule-explicit")
    v0 = rules_version(server)
    body = {"id": rid, "name": "big amounts", "expression": "amount > 100000000", "action": "review",
            "code": "big_amount", "priority": 7, "mode": "shadow"}
    r = server.request("POST", "/v1/rules", body, key="admin")
    assert r.status == 201, r
    rules.ids.append(rid)
    created = assert_rule_shape(r.json)
    for k, v in body.items():
        assert created[k] == v, (k, created)
    assert created["version"] == 1
    assert created["created_at"] == created["updated_at"]
    assert (r.header("content-type") or "").startswith("application/json")

    got = server.request("GET", rule_path(rid), key="admin")
    assert got.status == 200 and got.json == created, got

    listed = server.request("GET", "/v1/rules", key="admin")
    assert listed.status == 200
    doc = listed.json
    assert set(doc) == {"items", "rules_version"}, doc
    assert [it for it in doc["items"] if it["id"] == rid] == [created]
    for it in doc["items"]:
        assert_rule_shape(it)
    assert doc["rules_version"] == v0 + 1


def test_create_defaults_and_generated_id(server, rules):
    r = server.request("POST", "/v1/rules", {"name": "d", "expression": "amount == 1", "action": "decline",
                                             "code": "defaults"}, key="admin")
    assert r.status == 201, r
    rule = assert_rule_shape(r.json)
    rules.ids.append(rule["id"])
    assert rule["id"].startswith("rule_"), rule
    assert rule["priority"] == 0 and rule["mode"] == "enforce" and rule["version"] == 1, rule
    # Two generated ids differ.
    other = rules.add("amount == 2", code="defaults_two")
    assert other["id"] != rule["id"] and other["id"].startswith("rule_")


def test_version_and_timestamps_in_body_are_ignored(server, rules):
    rid = unique_name("ign")
    r = server.request("POST", "/v1/rules", {"id": rid, "name": "n", "expression": "amount == 3",
                                             "action": "decline", "code": "ign", "version": 41,
                                             "created_at": "2001-01-01T00:00:00Z",
                                             "updated_at": "2001-01-01T00:00:00Z"}, key="admin")
    assert r.status == 201, r
    rules.ids.append(rid)
    assert r.json["version"] == 1
    assert not r.json["created_at"].startswith("2001") and not r.json["updated_at"].startswith("2001"), r.json


def test_put_replaces_bumps_versions(server, rules):
    rule = rules.add("amount == 11", "decline", "put_me", priority=5, mode="shadow", name="first")
    rid = rule["id"]
    v0 = rules_version(server)
    new = {"name": "second", "expression": "amount == 12", "action": "review", "code": "put_me_too"}
    r = server.request("PUT", rule_path(rid), new, key="admin")
    assert r.status == 200, r
    put = assert_rule_shape(r.json)
    assert put["id"] == rid
    for k, v in new.items():
        assert put[k] == v, (k, put)
    # PUT replaces: members not sent take their defaults again.
    assert put["priority"] == 0 and put["mode"] == "enforce", put
    assert put["version"] == 2
    assert put["created_at"] == rule["created_at"]
    assert put["updated_at"] >= rule["updated_at"]
    assert rules_version(server) == v0 + 1
    assert server.request("GET", rule_path(rid), key="analyst").json == put

    # Again, with version/created_at in the body (ignored) and the same id in the body (allowed).
    again = dict(new, id=rid, version=1, created_at="2001-01-01T00:00:00Z", priority=-3)
    r = server.request("PUT", rule_path(rid), again, key="admin")
    assert r.status == 200, r
    assert r.json["version"] == 3 and r.json["priority"] == -3 and r.json["created_at"] == rule["created_at"]
    assert rules_version(server) == v0 + 2


def test_put_missing_rule_404(server):
    v0 = rules_version(server)
    r = server.request("PUT", rule_path(unique_name("ghost")), rule_body("amount == 1"), key="admin")
    assert_error(r, 404, "not_found")
    assert rules_version(server) == v0


def test_put_with_other_id_in_body_is_refused(server, rules):
    rule = rules.add("amount == 13", code="put_other_id")
    v0 = rules_version(server)
    r = server.request("PUT", rule_path(rule["id"]), rule_body("amount == 14", id=unique_name("else")), key="admin")
    assert r.status in (400, 409, 422), r
    assert server.request("GET", rule_path(rule["id"]), key="admin").json == rule
    assert rules_version(server) == v0


def test_delete_then_404(server):
    rule = create_rule_ok(server, "amount == 15", code="delete_me")
    v0 = rules_version(server)
    r = server.request("DELETE", rule_path(rule["id"]), key="admin")
    assert r.status == 204, r
    assert r.body == b""
    assert rules_version(server) == v0 + 1
    assert_error(server.request("GET", rule_path(rule["id"]), key="admin"), 404, "not_found")
    assert_error(server.request("DELETE", rule_path(rule["id"]), key="admin"), 404, "not_found")
    assert_error(server.request("PUT", rule_path(rule["id"]), rule_body("amount == 1"), key="admin"), 404,
                 "not_found")
    items = server.request("GET", "/v1/rules", key="admin").json["items"]
    assert rule["id"] not in {it["id"] for it in items}
    assert rules_version(server) == v0 + 1


def test_get_missing_rule_404(server):
    assert_error(server.request("GET", rule_path(unique_name("nope")), key="admin"), 404, "not_found")


def test_duplicate_id_409(server, rules):
    rule = rules.add("amount == 16", code="dup_one")
    v0 = rules_version(server)
    r = server.request("POST", "/v1/rules", rule_body("amount == 17", id=rule["id"], code="dup_two"), key="admin")
    assert_error(r, 409, "conflict")
    assert server.request("GET", rule_path(rule["id"]), key="admin").json == rule
    assert rules_version(server) == v0


def test_rules_version_counts_every_change_and_decisions_report_it(server):
    m = unique_merchant("rv")
    v0 = rules_version(server)
    assert server.validate_ok(sample_txn(merchant_id=m))["rules_version"] == v0
    rule = create_rule_ok(server, scoped(m, "amount > 0"), "review", "rv_review")
    assert rules_version(server) == v0 + 1
    d = server.validate_ok(sample_txn(merchant_id=m))
    assert d["rules_version"] == v0 + 1 and d["decision"] == "review"
    r = server.request("PUT", rule_path(rule["id"]), rule_body(scoped(m, "amount > 0"), "decline", "rv_decline"),
                       key="admin")
    assert r.status == 200
    d = server.validate_ok(sample_txn(merchant_id=m))
    assert d["rules_version"] == v0 + 2 and d["decision"] == "decline" and reason_codes(d) == ["rv_decline"]
    delete_rule_ok(server, rule["id"])
    d = server.validate_ok(sample_txn(merchant_id=m))
    assert d["rules_version"] == v0 + 3 and d["decision"] == "approve" and d["reasons"] == []
    # The stored record keeps the version it was decided with.
    stored = server.get_txn(m, d["transaction_id"]).json
    assert stored["rules_version"] == v0 + 3


def test_failed_writes_do_not_bump_rules_version(server, rules):
    rule = rules.add("amount == 18", code="nobump")
    v0 = rules_version(server)
    assert server.request("POST", "/v1/rules", rule_body("amount >"), key="admin").status == 422
    assert server.request("POST", "/v1/rules", {"name": "x"}, key="admin").status == 422
    assert server.request("PUT", rule_path(rule["id"]), rule_body("amount >"), key="admin").status == 422
    assert server.request("POST", "/v1/rules", rule_body("amount == 1"), key="analyst").status == 403
    assert rules_version(server) == v0
    assert server.request("GET", rule_path(rule["id"]), key="admin").json == rule


# ============================================================== body validation


def test_unknown_field_422(server):
    r = server.request("POST", "/v1/rules", rule_body("amount == 1", severity="high"), key="admin")
    assert_error(r, 422, "validation_failed", [("severity", "unknown_field")])


@pytest.mark.parametrize("mutate,field", [
    (lambda b: b.pop("name"), "name"),
    (lambda b: b.pop("expression"), "expression"),
    (lambda b: b.pop("action"), "action"),
    (lambda b: b.pop("code"), "code"),
    (lambda b: b.update(action="block"), "action"),
    (lambda b: b.update(action="DECLINE"), "action"),
    (lambda b: b.update(code="Not Snake"), "code"),
    (lambda b: b.update(code="1abc"), "code"),
    (lambda b: b.update(mode="off"), "mode"),
    (lambda b: b.update(priority="1"), "priority"),
    (lambda b: b.update(priority=1.5), "priority"),
    (lambda b: b.update(id="has space"), "id"),
    (lambda b: b.update(id="x" * 65), "id"),
    (lambda b: b.update(id=""), "id"),
    (lambda b: b.update(name=7), "name"),
])
def test_rule_body_violations(server, mutate, field):
    body = rule_body("amount == 1", "decline", "valid_code")
    mutate(body)
    r = server.request("POST", "/v1/rules", body, key="admin")
    err = assert_error(r, 422, "validation_failed")
    assert field in {d["field"] for d in err["details"]}, err


def test_rule_id_charset_accepted(server, rules):
    rid = "Ab9._:-" + unique_name("z")
    rule = rules.add("amount == 19", id=rid)
    assert rule["id"] == rid
    assert server.request("GET", rule_path(rid), key="admin").json == rule


def test_rule_body_must_be_object_and_json(server):
    v0 = rules_version(server)
    assert_error(server.request("POST", "/v1/rules", [rule_body("amount == 1")], key="admin"), 422,
                 "validation_failed")
    assert_error(server.request("POST", "/v1/rules", raw=b'{"name":', key="admin"), 400, "malformed_json")
    assert_error(server.request("POST", "/v1/rules", raw=b'{"name": "x"}',
                                headers={"Content-Type": "text/plain"}, key="admin"), 415,
                 "unsupported_media_type")
    assert rules_version(server) == v0


# ============================================================== roles

RULE_STATUS = {
    "create": {"admin": 201, "analyst": 403, "validator": 403, "scoped": 403, None: 401},
    "list": {"admin": 200, "analyst": 200, "validator": 403, "scoped": 403, None: 401},
    "get": {"admin": 200, "analyst": 200, "validator": 403, "scoped": 403, None: 401},
    "put": {"admin": 200, "analyst": 403, "validator": 403, "scoped": 403, None: 401},
    "delete": {"admin": 204, "analyst": 403, "validator": 403, "scoped": 403, None: 401},
}
CODE = {401: "unauthorized", 403: "forbidden"}


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(server, role):
    target = create_rule_ok(server, "amount == 20", code="role_target")
    try:
        v0 = rules_version(server)
        new_id = unique_name("role")
        calls = {
            "create": ("POST", "/v1/rules", rule_body("amount == 21", id=new_id)),
            "list": ("GET", "/v1/rules", None),
            "get": ("GET", rule_path(target["id"]), None),
            "put": ("PUT", rule_path(target["id"]), rule_body("amount == 22", code="role_put")),
            "delete": ("DELETE", rule_path(target["id"]), None),
        }
        for op, (method, path, body) in calls.items():
            r = server.request(method, path, body, key=role)
            want = RULE_STATUS[op][role]
            if want >= 400:
                assert_error(r, want, CODE[want])
            else:
                assert r.status == want, (op, role, r)
        if role != "admin":
            # Nothing changed.
            assert rules_version(server) == v0
            assert server.request("GET", rule_path(target["id"]), key="admin").json == target
            assert_error(server.request("GET", rule_path(new_id), key="admin"), 404, "not_found")
        else:
            assert rules_version(server) == v0 + 3
            delete_rule_ok(server, new_id)
    finally:
        server.request("DELETE", rule_path(target["id"]), key="admin")


# ============================================================== invalid expressions

INVALID = [
    # (expression, column, text in the issue)
    ("(amount > 10000", 16, "expected ')'"),
    ("card.bn == '411111'", 1, "card.bin"),
    ("amount > 'x'", 8, "cannot compare"),
    ("amount >", 9, "end of expression"),
    ("amount = 5", 8, "'=='"),
    ("amount > 5 & amount < 9", 12, "'&&'"),
    ("velocity('cardd', '1h').count > 1", 10, "velocity key"),
    ("velocity('card', '31d').count > 1", 18, "30 days"),
    ("amount > 1.5", 10, "floating-point"),
    ("foo(1) == 1", 1, "unknown function"),
    ("amount", 1, "bool"),
    ("customer.email.startsWith(1)", 27, "string argument"),
    ("amount > 5 && 'x'", 15, "'&&'"),
    ("customer.id == 'abc", 16, "unterminated string"),
    ("amount in ['a', 'b']", 8, "'in'"),
    ("  amount >> 3", 11, "unexpected"),
    ("metadata == 'x'", 1, "metadata"),
    ("card.bin in list('')", 18, "must not be empty"),
    ("amount > 0 ? 1 : 2", 12, "conditional"),
    ("", 1, None),
]


@pytest.mark.parametrize("expr,column,text", INVALID, ids=[e[0] or "<empty>" for e in INVALID])
def test_invalid_expression_reports_column(server, expr, column, text):
    v0 = rules_version(server)
    rid = unique_name("bad")
    body = {"id": rid, "name": "bad", "expression": expr, "action": "decline", "code": "bad_expr"}
    r = server.request("POST", "/v1/rules", body, key="admin")
    if expr == "":
        # An empty expression: either a validation error on the field or invalid_expression at column 1.
        assert r.status == 422, r
        assert r.json["error"]["code"] in ("invalid_expression", "validation_failed"), r
        assert r.json["error"]["details"][0]["field"] == "expression", r
    else:
        assert_invalid_expression(r, column, text)
    assert_error(server.request("GET", rule_path(rid), key="admin"), 404, "not_found")
    assert rules_version(server) == v0


def test_readme_error_message_exact(server):
    r = server.request("POST", "/v1/rules", rule_body("card.bn == '1'"), key="admin")
    issue = assert_invalid_expression(r, 1)
    assert issue == "unknown field 'card.bn' at column 1 (did you mean 'card.bin'?)", issue


@pytest.mark.parametrize("expr,column", [
    ("'é' == 1 + 'x'", 10),                       # 'é' is 2 bytes, 1 character
    ("'é€' == 'x' && amount > 'y'", 23),          # 5 bytes, 2 characters
    ("customer.id == 'é' &&\namount > 'x'", 30),  # a line break counts as one character
])
def test_column_counts_code_points(server, expr, column):
    assert_invalid_expression(server.request("POST", "/v1/rules", rule_body(expr), key="admin"), column)


def test_put_with_invalid_expression_keeps_rule(server, rules):
    rule = rules.add("amount == 23", code="keep_me")
    r = server.request("PUT", rule_path(rule["id"]), rule_body("amount == ", code="keep_me"), key="admin")
    assert_invalid_expression(r, 11)
    assert server.request("GET", rule_path(rule["id"]), key="admin").json == rule


# ============================================================== outcome


def test_no_rules_match_approves_with_empty_reasons(server):
    d = server.validate_ok(sample_txn(merchant_id=unique_merchant("none")))
    assert d["decision"] == "approve" and d["reasons"] == [] and d["shadow_matches"] == []


def test_approve_overrides_decline_and_review(server, rules):
    m = unique_merchant("prec")
    dec = rules.add(scoped(m, "amount > 100"), "decline", "p_decline", priority=1)
    rev = rules.add(scoped(m, "amount > 100"), "review", "p_review", priority=2)
    app = rules.add(scoped(m, "metadata.channel == 'staff'"), "approve", "p_approve", priority=3)
    d = server.validate_ok(sample_txn(merchant_id=m, metadata={"channel": "staff"}))
    assert d["decision"] == "approve", d
    assert d["reasons"] == [
        {"code": "p_decline", "source": "rule", "rule_id": dec["id"], "action": "decline"},
        {"code": "p_review", "source": "rule", "rule_id": rev["id"], "action": "review"},
        {"code": "p_approve", "source": "rule", "rule_id": app["id"], "action": "approve"},
    ], d
    # Without the approve rule matching: decline beats review.
    d = server.validate_ok(sample_txn(merchant_id=m, metadata={"channel": "web"}))
    assert d["decision"] == "decline" and reason_codes(d) == ["p_decline", "p_review"], d
    # Approve alone against review alone.
    d = server.validate_ok(sample_txn(merchant_id=m, amount=50, metadata={"channel": "staff"}))
    assert d["decision"] == "approve" and reason_codes(d) == ["p_approve"], d


def test_approve_overrides_review_only(server, rules):
    m = unique_merchant("prec2")
    rules.add(scoped(m, "amount > 0"), "review", "q_review")
    rules.add(scoped(m, "amount == 777"), "approve", "q_approve")
    assert server.validate_ok(sample_txn(merchant_id=m, amount=777))["decision"] == "approve"
    d = server.validate_ok(sample_txn(merchant_id=m, amount=778))
    assert d["decision"] == "review" and reason_codes(d) == ["q_review"]


def test_decline_over_review(server, rules):
    m = unique_merchant("prec3")
    rules.add(scoped(m, "amount > 0"), "review", "r_review", priority=-1)
    rules.add(scoped(m, "amount >= 1000"), "decline", "r_decline", priority=99)
    d = server.validate_ok(sample_txn(merchant_id=m, amount=1000))
    assert d["decision"] == "decline" and reason_codes(d) == ["r_review", "r_decline"], d
    d = server.validate_ok(sample_txn(merchant_id=m, amount=999))
    assert d["decision"] == "review" and reason_codes(d) == ["r_review"], d


@pytest.mark.parametrize("bad_card,check", [
    (card("4242424242424242", 1, 2020), "card_expired"),
    (card("4242424242424241"), "invalid_card_number"),
])
def test_failed_check_beats_approve_rule(server, rules, bad_card, check):
    m = unique_merchant("chk")
    app = rules.add(scoped(m, "amount > 0"), "approve", "always_ok")
    d = server.validate_ok(sample_txn(merchant_id=m, card=bad_card))
    assert d["decision"] == "decline", d
    assert {"code": check, "source": "check", "action": "decline"} in d["reasons"], d
    checks = [r for r in d["reasons"] if r["source"] == "check"]
    assert all("rule_id" not in r for r in checks), d
    assert {"code": "always_ok", "source": "rule", "rule_id": app["id"], "action": "approve"} in d["reasons"], d
    # A good card with the same rule approves.
    assert server.validate_ok(sample_txn(merchant_id=m))["decision"] == "approve"


def test_reasons_ordered_by_priority_then_id(server, rules):
    m = unique_merchant("order")
    tag = unique_name("o")
    # Created in an order that is neither priority nor id order.
    r30 = rules.add(scoped(m, "amount > 0"), "review", "o_p30", priority=30, id=f"{tag}-a")
    r10b = rules.add(scoped(m, "amount > 0"), "decline", "o_p10_b", priority=10, id=f"{tag}-b")
    rneg = rules.add(scoped(m, "amount > 0"), "review", "o_neg", priority=-5, id=f"{tag}-z")
    r10a = rules.add(scoped(m, "amount > 0"), "review", "o_p10_a", priority=10, id=f"{tag}-A")
    r0 = rules.add(scoped(m, "amount > 0"), "decline", "o_p0", id=f"{tag}-y")
    d = server.validate_ok(sample_txn(merchant_id=m))
    assert [r["rule_id"] for r in d["reasons"]] == [rneg["id"], r0["id"], r10a["id"], r10b["id"], r30["id"]], d
    assert reason_codes(d) == ["o_neg", "o_p0", "o_p10_a", "o_p10_b", "o_p30"]
    assert d["decision"] == "decline"
    # The same order in the stored record.
    assert server.get_txn(m, d["transaction_id"]).json["reasons"] == d["reasons"]


def test_shadow_rules_reported_never_decide(server, rules):
    m = unique_merchant("shadow")
    sd = rules.add(scoped(m, "amount > 0"), "decline", "s_decline", mode="shadow", priority=1)
    sa = rules.add(scoped(m, "amount > 500"), "approve", "s_approve", mode="shadow", priority=2)
    sr = rules.add(scoped(m, "amount > 0"), "review", "s_review", mode="shadow", priority=3)
    d = server.validate_ok(sample_txn(merchant_id=m, amount=100))
    assert d["decision"] == "approve" and d["reasons"] == [], d
    assert sorted(d["shadow_matches"], key=lambda s: s["code"]) == [
        {"rule_id": sd["id"], "action": "decline", "code": "s_decline"},
        {"rule_id": sr["id"], "action": "review", "code": "s_review"},
    ], d
    # A shadow approve does not override an enforced decline.
    en = rules.add(scoped(m, "amount > 500"), "decline", "s_enforced")
    d = server.validate_ok(sample_txn(merchant_id=m, amount=600))
    assert d["decision"] == "decline", d
    assert d["reasons"] == [{"code": "s_enforced", "source": "rule", "rule_id": en["id"], "action": "decline"}]
    assert set(shadow_codes(d)) == {"s_decline", "s_approve", "s_review"}, d
    assert {"rule_id": sa["id"], "action": "approve", "code": "s_approve"} in d["shadow_matches"]
    stored = server.get_txn(m, d["transaction_id"]).json
    assert sorted(stored["shadow_matches"], key=json.dumps) == sorted(d["shadow_matches"], key=json.dumps)


def test_disabled_rules_never_match(server, rules):
    m = unique_merchant("dis")
    rule = rules.add(scoped(m, "amount > 0"), "decline", "d_off", mode="disabled")
    d = server.validate_ok(sample_txn(merchant_id=m))
    assert d["decision"] == "approve" and d["reasons"] == [] and d["shadow_matches"] == [], d
    # Enable it: live at once; disable again: gone at once.
    r = server.request("PUT", rule_path(rule["id"]), rule_body(scoped(m, "amount > 0"), "decline", "d_off"),
                       key="admin")
    assert r.status == 200 and r.json["mode"] == "enforce"
    assert server.validate_ok(sample_txn(merchant_id=m))["decision"] == "decline"
    r = server.request("PUT", rule_path(rule["id"]),
                       rule_body(scoped(m, "amount > 0"), "decline", "d_off", mode="disabled"), key="admin")
    assert r.status == 200
    d = server.validate_ok(sample_txn(merchant_id=m))
    assert d["decision"] == "approve" and d["reasons"] == [] and d["shadow_matches"] == [], d


def test_rule_changes_live_in_next_decision(server):
    m = unique_merchant("live")
    rule = create_rule_ok(server, scoped(m, "amount == 4242"), "decline", "live_decline")
    try:
        assert server.validate_ok(sample_txn(merchant_id=m, amount=4242))["decision"] == "decline"
        assert server.validate_ok(sample_txn(merchant_id=m, amount=4243))["decision"] == "approve"
        r = server.request("PUT", rule_path(rule["id"]),
                           rule_body(scoped(m, "amount == 4243"), "review", "live_review"), key="admin")
        assert r.status == 200
        assert server.validate_ok(sample_txn(merchant_id=m, amount=4242))["decision"] == "approve"
        d = server.validate_ok(sample_txn(merchant_id=m, amount=4243))
        assert d["decision"] == "review" and reason_codes(d) == ["live_review"]
    finally:
        delete_rule_ok(server, rule["id"])
    assert server.validate_ok(sample_txn(merchant_id=m, amount=4243))["decision"] == "approve"


# ============================================================== absent fields

ABSENT_CASES = [
    # (expression, txn overrides, should match)
    ("customer.country == 'US'", {"customer": DROP}, False),
    ("!(customer.country == 'US')", {"customer": DROP}, False),
    ("customer.country != 'US'", {"customer": DROP}, False),
    ("customer.country == 'US'", {"customer": {"id": "c-1"}}, False),
    ("!(customer.country == 'US')", {"customer": {"id": "c-1"}}, False),
    ("customer.country != 'US'", {"customer": {"id": "c-1", "country": "DE"}}, True),
    ("!(customer.country == 'US')", {"customer": {"id": "c-1", "country": "DE"}}, True),
    ("customer.country == 'US'", {}, True),
    ("customer.device_id != 'd-1'", {"customer": {"id": "c-1"}}, False),
    ("customer.country == 'US' || amount > 0", {"customer": DROP}, True),
    ("customer.country == 'US' && amount > 0", {"customer": DROP}, False),
    ("!(customer.country == 'US' && amount > 0)", {"customer": DROP}, False),
    ("merchant.mcc in ['5411', '7995']", {"merchant": DROP}, False),
    ("!(merchant.mcc in ['7995'])", {"merchant": DROP}, False),
    ("!(merchant.mcc in ['7995'])", {}, True),
    ("customer.country != merchant.country", {"merchant": {"mcc": "5411"}}, False),
    ("customer.country != merchant.country", {"merchant": {"mcc": "5411", "country": "FR"}}, True),
    ("customer.email.endsWith('@example.com')", {"customer": {"id": "c-1"}}, False),
    ("!customer.email.endsWith('@x.test')", {"customer": {"id": "c-1"}}, False),
    ("size(customer.email) > 0", {"customer": {"id": "c-1"}}, False),
    ("metadata.channel == 'web'", {"metadata": DROP}, False),
    ("metadata.channel != 'web'", {"metadata": {"other": "x"}}, False),
    ("metadata.channel != 'web'", {"metadata": {"channel": "app"}}, True),
    ("customer.ip in list('no-such-list-ever')", {}, False),
    ("!(customer.ip in list('no-such-list-ever'))", {}, True),
    ("amount / 0 == 0", {}, False),
    ("!(amount / 0 == 0)", {}, False),
]


@pytest.mark.parametrize("expr,overrides,match", ABSENT_CASES, ids=[f"{c[0]}|{list(c[1])}" for c in ABSENT_CASES])
def test_absent_field_semantics(server, rules, expr, overrides, match):
    m = unique_merchant("abs")
    rules.add(scoped(m, expr), "decline", "abs_rule")
    d = server.validate_ok(sample_txn(merchant_id=m, **overrides))
    want = "decline" if match else "approve"
    assert d["decision"] == want, (expr, overrides, d)
    assert reason_codes(d) == (["abs_rule"] if match else []), d


# ============================================================== fields, metadata, strings

FIELD_CASES = [
    # expression (scoped), matching overrides, non-matching overrides
    ("metadata.channel == 'staff'", {"metadata": {"channel": "staff"}}, {"metadata": {"channel": "web"}}),
    ("metadata['order-id'].startsWith('ORD-')", {"metadata": {"order-id": "ORD-1"}},
     {"metadata": {"order-id": "XORD-1"}}),
    ("metadata.a == metadata.b", {"metadata": {"a": "1", "b": "1"}}, {"metadata": {"a": "1", "b": "2"}}),
    ("customer.email.endsWith('@mailinator.com')", {"customer": {"email": "z@mailinator.com"}},
     {"customer": {"email": "z@mailinator.com.au"}}),
    ("customer.email.startsWith('vip.')", {"customer": {"email": "vip.x@a.test"}},
     {"customer": {"email": "x.vip.@a.test"}}),
    ("customer.email.contains('+test')", {"customer": {"email": "a+test@b.test"}},
     {"customer": {"email": "a+tes@b.test"}}),
    ("size(customer.id) == 5", {"customer": {"id": "12345"}}, {"customer": {"id": "123456"}}),
    ("customer.id.size() < 3", {"customer": {"id": "ab"}}, {"customer": {"id": "abc"}}),
    ("card.bin == '555555' && card.brand == 'mastercard'", {"card": card("5555555555554444")},
     {"card": card("4242424242424242")}),
    ("card.last4 == '4444'", {"card": card("5555555555554444")}, {}),
    ("merchant.mcc in ['7995', '7801']", {"merchant": {"mcc": "7801", "country": "US"}}, {}),
    ("currency == 'EUR'", {"currency": "eur"}, {"currency": "USD"}),
    ("type == 'refund'", {"type": "refund"}, {"type": "purchase"}),
    ("amount % 100 == 0 && amount * 2 > 1000", {"amount": 600}, {"amount": 601}),
    ("amount - 10 >= 90 && -amount < 0", {"amount": 100}, {"amount": 99}),
    ("transaction_id.endsWith('-special')", {"transaction_id": None}, {}),
    ("customer.ip == '203.0.113.9'", {"customer": {"ip": "203.0.113.9"}}, {"customer": {"ip": "203.0.113.10"}}),
    ("customer.device_id in ['d-9', 'd-10']", {"customer": {"device_id": "d-10"}}, {"customer": {"device_id": "d-1"}}),
    ("card.fingerprint.size() == 32", {}, None),
    ("size(['a', 'b', 'c']) == 3 && 'x' < 'y'", {}, None),
    ("\"dq\" == 'dq' && true", {}, None),
]


@pytest.mark.parametrize("expr,yes,no", FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_fields_metadata_and_string_methods(server, rules, expr, yes, no):
    m = unique_merchant("fld")
    rules.add(scoped(m, expr), "review", "fld_rule")

    def txn(overrides):
        body = sample_txn(merchant_id=m)
        for k, v in overrides.items():
            if k == "customer":
                body["customer"] = dict(body["customer"], **v)
            elif k == "transaction_id":
                body["transaction_id"] = body["transaction_id"] + "-special"
            else:
                body[k] = v
        return body

    d = server.validate_ok(txn(yes))
    assert d["decision"] == "review" and reason_codes(d) == ["fld_rule"], (expr, d)
    if no is not None:
        d = server.validate_ok(txn(no))
        assert d["decision"] == "approve" and d["reasons"] == [], (expr, d)


def test_fingerprint_rule_matches_only_that_card(server, rules):
    m = unique_merchant("fp")
    pan = make_pan("4", 16)
    first = server.validate_ok(sample_txn(merchant_id=m, card=card(pan)))
    fp = first["card"]["fingerprint"]
    rules.add(scoped(m, f"card.fingerprint == '{fp}'"), "decline", "fp_block")
    assert server.validate_ok(sample_txn(merchant_id=m, card=card(pan, 1, 2031)))["decision"] == "decline"
    assert server.validate_ok(sample_txn(merchant_id=m, card=card(make_pan("4", 16))))["decision"] == "approve"


# ============================================================== README examples


def readme_rules() -> list[dict]:
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("## Writing rules")
    section = text[start:text.index("\n## ", start + 5)]
    bodies = [json.loads(m) for m in re.findall(r"^rule '(\{.*\})'$", section, flags=re.M)]
    assert len(bodies) == 5, f"expected five `rule '...'` examples in README, found {len(bodies)}"
    return bodies


def test_readme_examples(make_server):
    # Its own server: the README rules are global (not scoped to one merchant).
    srv = make_server()
    bodies = readme_rules()
    created = {}
    for body in bodies:
        r = srv.request("POST", "/v1/rules", body, key="admin")
        assert r.status == 201, (body, r)
        rule = assert_rule_shape(r.json)
        for k, v in body.items():
            assert rule[k] == v, (k, rule)
        created[rule["code"]] = rule
    assert set(created) == {"card_velocity", "daily_spend", "risky_bin", "cross_border_mcc", "staff_allow"}
    assert created["cross_border_mcc"]["mode"] == "shadow"

    def txn(**kw):
        base = sample_txn(merchant_id=unique_merchant("rd"), customer=fresh_customer(), card=card(make_pan("4", 16)))
        base.update(kw)
        return base

    def decide(body):
        return srv.validate_ok(body)

    def only(d, decision, codes=(), shadow=()):
        assert d["decision"] == decision, d
        assert reason_codes(d) == list(codes), d
        assert shadow_codes(d) == list(shadow), d

    # 1. card velocity: the fourth attempt on one card within an hour, above 500.00.
    pan, other = make_pan("4", 16), make_pan("4", 16)
    for _ in range(3):
        only(decide(txn(card=card(pan), amount=60000)), "approve")
        only(decide(txn(card=card(other), amount=60000)), "approve")
    only(decide(txn(card=card(other), amount=50000)), "approve")  # 4th attempt, not above 500.00
    d = decide(txn(card=card(pan), amount=50001))  # 4th attempt, above 500.00
    only(d, "decline", ["card_velocity"])
    assert d["reasons"][0] == {"code": "card_velocity", "source": "rule", "rule_id": created["card_velocity"]["id"],
                               "action": "decline"}
    only(decide(txn(amount=90000)), "approve")  # fresh card, large amount

    # 2. daily spend per customer in the transaction's currency.
    cust = fresh_customer()
    only(decide(txn(customer=cust, amount=300000)), "approve")
    only(decide(txn(customer=cust, amount=200000)), "approve")  # 300000 + 200000 is not > 500000
    only(decide(txn(customer=cust, amount=400000, currency="EUR")), "approve")  # other currency: 0 + 400000
    only(decide(txn(customer=cust, amount=1)), "review", ["daily_spend"])  # 500000 + 1 USD

    # 3. risky BINs from a named list (the list made after the rule).
    assert decide(txn(card=card("4000056655665556")))["decision"] == "approve"  # no list yet
    assert srv.put_list("risky_bins", ["400005", "520082"]).status == 200
    only(decide(txn(card=card("4000056655665556"))), "decline", ["risky_bin"])
    only(decide(txn(card=card("5200828282828210"))), "decline", ["risky_bin"])
    only(decide(txn(card=card("4242424242424242"))), "approve")

    # 4. cross-border gambling in shadow mode: reported, never decides.
    cross = fresh_customer(country="DE")
    d = decide(txn(customer=cross, merchant={"mcc": "7995", "country": "US"}))
    only(d, "approve", [], ["cross_border_mcc"])
    assert d["shadow_matches"] == [{"rule_id": created["cross_border_mcc"]["id"], "action": "review",
                                    "code": "cross_border_mcc"}]
    only(decide(txn(customer=fresh_customer(country="US"), merchant={"mcc": "7995", "country": "US"})), "approve")
    only(decide(txn(customer=fresh_customer(country="DE"), merchant={"mcc": "5411", "country": "US"})), "approve")

    # 5. staff allow overrides the risky BIN decline.
    staff = fresh_customer(email="alice@example.com")
    d = decide(txn(customer=staff, card=card("4000056655665556"), metadata={"channel": "staff"}))
    assert d["decision"] == "approve", d
    assert reason_codes(d) == ["staff_allow", "risky_bin"], d  # priority 1 before priority 5
    only(decide(txn(customer=staff, card=card("4000056655665556"), metadata={"channel": "web"})), "decline",
         ["risky_bin"])
    only(decide(txn(customer=fresh_customer(email="alice@example.org"), card=card("4000056655665556"),
                    metadata={"channel": "staff"})), "decline", ["risky_bin"])


def test_every_rule_listed_has_all_fields(server, rules):
    rules.add("amount == 24", code="listed")
    for it in server.request("GET", "/v1/rules", key="analyst").json["items"]:
        assert set(it) == RULE_FIELDS

