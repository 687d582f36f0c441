"""Section 12, rule analysis: POST /v1/rules/check, warnings on POST/PUT /v1/rules, GET /v1/rules/analysis.

Every rule is scoped with ``merchant_id == '<fresh>'`` (so it decides nothing for other tests) and
deleted again at the end of its test.
"""

from __future__ import annotations

import pytest

from rulestest import Rules, rule_body, rule_path, unique_name
from txvtest import assert_error, unique_merchant


@pytest.fixture
def rules(server):
    with Rules(server) as r:
        yield r


def check(server, expression, key="admin"):
    r = server.request("POST", "/v1/rules/check", {"expression": expression}, key=key)
    assert r.status == 200, r
    body = r.json
    assert set(body) == {"valid", "errors", "warnings"}, body
    return body


def post_rule(server, rules, expression, action="decline", **extra):
    """POST /v1/rules; returns the whole answer (with its warnings) and deletes the rule at the end."""
    r = server.request("POST", "/v1/rules", rule_body(expression, action, **extra), key="admin")
    assert r.status == 201, r
    rules.ids.append(r.json["id"])
    assert isinstance(r.json["warnings"], list), r
    return r.json


def codes(warnings):
    return [w["code"] for w in warnings]


def test_check_valid_without_warnings(server):
    body = check(server, "amount > 10 && amount < 20")
    assert body == {"valid": True, "errors": [], "warnings": []}


def test_check_invalid_expression_is_200_with_column(server):
    body = check(server, "amount > 'x'")
    assert body["valid"] is False and body["warnings"] == []
    assert len(body["errors"]) == 1
    assert body["errors"][0]["column"] == 8 and "column 8" in body["errors"][0]["message"]


@pytest.mark.parametrize("expression,code", [
    ("amount > 10 && amount < 5", "never_matches"),
    ("card.bin == 'abc'", "never_matches"),
    ("merchant.mcc == '12345'", "never_matches"),
    ("amount >= 0", "always_matches"),
])
def test_check_warnings(server, expression, code):
    body = check(server, expression)
    assert body["valid"] is True and codes(body["warnings"]) == [code], body
    for w in body["warnings"]:
        assert isinstance(w["message"], str) and w["message"]


def test_check_no_false_always_on_optional_field(server):
    assert check(server, "customer.email == 'a@b' || !(customer.email == 'a@b')")["warnings"] == []


def test_check_column_of_culprit(server):
    w = check(server, "amount > 10 && amount < 5")["warnings"][0]
    assert w["column"] == 16


def test_check_unknown_list_then_created(server):
    name = unique_name("lst")
    w = check(server, f"card.bin in list('{name}')")["warnings"]
    assert codes(w) == ["unknown_list"] and w[0]["column"] == 13
    r = server.request("PUT", f"/v1/lists/{name}", {"entries": ["424242"]}, key="admin")
    assert r.status == 200, r
    assert check(server, f"card.bin in list('{name}')")["warnings"] == []


def test_check_roles(server):
    assert check(server, "amount > 1", key="analyst")["valid"] is True
    for key, status in (("validator", 403), (None, 401)):
        r = server.request("POST", "/v1/rules/check", {"expression": "amount > 1"}, key=key)
        assert r.status == status, r


def test_check_body_errors(server):
    r = server.request("POST", "/v1/rules/check", {"expression": "amount > 1", "x": 1}, key="admin")
    assert_error(r, 422, "validation_failed", [("x", "unknown_field")])
    r = server.request("POST", "/v1/rules/check", {}, key="admin")
    assert_error(r, 422, "validation_failed", [("expression", "required")])


def test_warnings_on_post_and_put(server, rules):
    m = unique_merchant()
    rule = post_rule(server, rules, f"merchant_id == '{m}' && card.bin == 'abc'")
    assert codes(rule["warnings"]) == ["never_matches"], rule
    assert rule["warnings"][0]["column"] == len(f"merchant_id == '{m}' && ") + 1, rule
    body = rule_body(f"merchant_id == '{m}' && amount > 5")
    r = server.request("PUT", rule_path(rule["id"]), body, key="admin")
    assert r.status == 200, r
    assert r.json["warnings"] == [] and r.json["version"] == 2
    # Still saved and readable.
    assert server.request("GET", rule_path(rule["id"]), key="admin").status == 200


def test_shadowed_by_names_the_rule_and_analysis_lists_it(server, rules):
    m = unique_merchant()
    wide = post_rule(server, rules, f"merchant_id == '{m}' && amount > 100", "review", priority=1)
    assert wide["warnings"] == [], wide
    narrow = post_rule(server, rules, f"merchant_id == '{m}' && amount > 1000", "review", priority=2)
    shadow = [w for w in narrow["warnings"] if w["code"] == "shadowed_by"]
    assert len(shadow) == 1 and shadow[0]["rule_id"] == wide["id"], narrow
    allow = post_rule(server, rules, f"merchant_id == '{m}' && amount > 50", "approve", priority=9)
    assert allow["warnings"] == [], allow
    # A shadow-mode rule never shadows; a disabled one is not analysed against the others.
    post_rule(server, rules, f"merchant_id == '{m}' && amount > 0", "review", priority=0, mode="shadow")
    off = post_rule(server, rules, f"merchant_id == '{m}' && amount > 2000", "review", priority=5, mode="disabled")
    assert off["warnings"] == [], off
    r = server.request("GET", "/v1/rules/analysis", key="analyst")
    assert r.status == 200, r
    mine = {(w["rule_id"], w["code"], w.get("by_rule_id")) for w in r.json["warnings"]
            if w["rule_id"] in (wide["id"], narrow["id"], allow["id"])}
    assert (narrow["id"], "shadowed_by", wide["id"]) in mine
    assert (wide["id"], "overridden_by_approve", allow["id"]) in mine
    assert (narrow["id"], "overridden_by_approve", allow["id"]) in mine
    assert not any(w[0] == allow["id"] for w in mine)


def test_unknown_list_on_save(server, rules):
    m = unique_merchant()
    name = unique_name("nolist")
    rule = post_rule(server, rules, f"merchant_id == '{m}' && customer.email in list('{name}')")
    assert codes(rule["warnings"]) == ["unknown_list"] and name in rule["warnings"][0]["message"], rule


def test_reserved_ids_and_routes(server):
    r = server.request("POST", "/v1/rules", rule_body("amount > 1", id="check"), key="admin")
    assert_error(r, 422, "validation_failed", [("id", "invalid_value")])
    r = server.request("GET", "/v1/rules/analysis", key="validator")
    assert r.status == 403, r
