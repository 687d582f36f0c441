"""Section 12: PUT /v1/rules replaces the whole rule set in one change, guarded by If-Match.

The module has a server of its own (a fresh database in either mode), so a test may replace
the whole set; every test starts from the live set and version it reads itself.
"""

from __future__ import annotations

import pytest

from rulestest import assert_rule_shape, audit_all, reason_codes, rule_body, unique_name
from txvtest import assert_error, poll, sample_txn, unique_merchant

STORED_FIELDS = ("id", "name", "expression", "action", "code", "priority", "mode")


def live(server) -> tuple[list[dict], int]:
    r = server.request("GET", "/v1/rules", key="admin")
    assert r.status == 200, r
    assert r.header("etag") == f'"{r.json["rules_version"]}"', r
    return r.json["items"], r.json["rules_version"]


def as_body(rule: dict, **changes) -> dict:
    """A live rule as a PUT item (the stored fields only), with changes."""
    body = {k: rule[k] for k in STORED_FIELDS}
    body.update(changes)
    return body


def put_rules(server, rules: list[dict], version, key: str = "admin", quoted: bool = True):
    headers = {} if version is None else {"If-Match": f'"{version}"' if quoted else str(version)}
    return server.request("PUT", "/v1/rules", {"rules": rules}, key=key, headers=headers)


def rule_audit(server) -> list[dict]:
    return audit_all(server, object_type="rule")


def test_without_if_match_is_428_and_changes_nothing(server):
    before = live(server)
    r = put_rules(server, [rule_body("amount == 1", id=unique_name("r428"))], None)
    assert_error(r, 428, "precondition_required")
    assert live(server) == before


@pytest.mark.parametrize("value", ["*", '"1", "2"', 'W/"1"', '"abc"', "-1", '""', "1.5"])
def test_a_malformed_if_match_is_422_naming_it(server, value):
    before = live(server)
    r = server.request("PUT", "/v1/rules", {"rules": []}, key="admin", headers={"If-Match": value})
    assert_error(r, 422, "validation_failed", [("If-Match", "invalid_format")])
    assert live(server) == before


def test_a_stale_version_is_412_and_changes_nothing(server):
    rid = unique_name("stale")
    made = put_rules(server, [rule_body("amount == 412", id=rid)] + live(server)[0], live(server)[1])
    assert made.status == 200, made
    items, version = live(server)
    audit_before = rule_audit(server)
    for stale in (version - 1, version + 1):
        r = put_rules(server, [], stale)
        err = assert_error(r, 412, "version_mismatch")
        assert str(version) in err["message"], err
    assert live(server) == (items, version)
    assert rule_audit(server) == audit_before


def test_create_update_delete_and_unchanged_in_one_bump(server):
    m = unique_merchant("put")
    keep, upd, gone = unique_name("keep"), unique_name("upd"), unique_name("gone")
    base, v0 = live(server)
    seeded = put_rules(server, base + [
        rule_body(f"merchant_id == '{m}' && amount > 100", "review", "put_keep", id=keep, priority=5),
        rule_body(f"merchant_id == '{m}' && amount > 200", "review", "put_upd", id=upd, priority=6),
        rule_body(f"merchant_id == '{m}' && amount > 0", "decline", "put_gone", id=gone, priority=7),
    ], v0)
    assert seeded.status == 200, seeded
    assert seeded.json["rules_version"] == v0 + 1
    assert sorted(seeded.json["created"]) == sorted([keep, upd, gone]) and seeded.json["deleted"] == []
    # The old set decides: gone declines.
    txn = sample_txn(merchant_id=m, amount=50)
    assert server.validate_ok(txn)["decision"] == "decline"

    items, v1 = live(server)
    assert v1 == v0 + 1
    by_id = {r["id"]: r for r in items}
    audit_before = rule_audit(server)
    others = [as_body(r) for r in items if r["id"] not in (keep, upd, gone)]
    new_body = rule_body(f"merchant_id == '{m}' && amount > 10", "review", "put_new", priority=8)  # no id
    body = others + [
        as_body(by_id[keep]),  # unchanged
        as_body(by_id[upd], expression=f"merchant_id == '{m}' && amount > 20", mode="shadow"),
        new_body,
    ]
    r = put_rules(server, body, v1, quoted=False)  # a bare version is accepted too
    assert r.status == 200, r
    doc = r.json
    assert set(doc) == {"items", "rules_version", "created", "updated", "deleted"}, doc
    assert doc["rules_version"] == v1 + 1
    assert r.header("etag") == f'"{v1 + 1}"'
    assert doc["updated"] == [upd] and doc["deleted"] == [gone] and len(doc["created"]) == 1, doc
    new_id = doc["created"][0]
    assert new_id.startswith("rule_"), doc
    for it in doc["items"]:
        assert_rule_shape(it)
    after, v2 = live(server)
    assert doc["items"] == after and v2 == v1 + 1
    after_by_id = {x["id"]: x for x in after}
    assert gone not in after_by_id
    assert after_by_id[keep] == by_id[keep]  # untouched: same version and times
    assert after_by_id[upd]["version"] == by_id[upd]["version"] + 1
    assert after_by_id[upd]["mode"] == "shadow" and after_by_id[upd]["created_at"] == by_id[upd]["created_at"]
    assert after_by_id[new_id]["version"] == 1 and after_by_id[new_id]["code"] == "put_new"

    # One audit entry per rule changed, as the single-rule endpoints write them.
    audit = rule_audit(server)
    fresh = audit[:len(audit) - len(audit_before)]
    assert audit[len(fresh):] == audit_before
    assert sorted((e["action"], e["object_id"]) for e in fresh) == sorted(
        [("create", new_id), ("update", upd), ("delete", gone)]), fresh
    admin = server.key_names["admin"]
    for e in fresh:
        assert e["actor"] == admin and e["object_type"] == "rule", e
        if e["action"] == "create":
            assert e["before"] is None and e["after"] == after_by_id[new_id], e
        elif e["action"] == "update":
            assert e["before"] == by_id[upd] and e["after"] == after_by_id[upd], e
        else:
            assert e["before"] == by_id[gone] and e["after"] is None, e

    # The new set decides at once: gone no longer declines, upd is shadow, new reviews.
    d = server.validate_ok(sample_txn(merchant_id=m, amount=50))
    assert d["decision"] == "review", d
    assert reason_codes(d) == ["put_new"], d
    assert [s["code"] for s in d["shadow_matches"]] == ["put_upd"], d


def test_nothing_changed_is_200_without_a_bump_or_audit(server):
    rid = unique_name("same")
    base, v0 = live(server)
    assert put_rules(server, [as_body(x) for x in base] + [rule_body("amount == 7", id=rid)], v0).status == 200
    items, version = live(server)
    audit_before = rule_audit(server)
    r = put_rules(server, [as_body(x) for x in reversed(items)], version)
    assert r.status == 200, r
    assert r.json == {"items": items, "rules_version": version, "created": [], "updated": [], "deleted": []}
    assert r.header("etag") == f'"{version}"'
    assert live(server) == (items, version)
    assert rule_audit(server) == audit_before


def test_an_invalid_rule_is_422_naming_rules_i_and_changes_nothing(server):
    before = live(server)
    audit_before = rule_audit(server)
    good = rule_body("amount == 3", id=unique_name("ok"))
    cases = [
        ([good, rule_body("amount >")], 422, "invalid_expression", "rules[1].expression"),
        ([good, rule_body("amount == 4", action="explode")], 422, "validation_failed", "rules[1].action"),
        ([rule_body("amount == 5", bogus=1)], 422, "validation_failed", "rules[0].bogus"),
        ([good, dict(good)], 422, "validation_failed", "rules[1].id"),
        ([rule_body("amount == 6", id="check")], 422, "validation_failed", "rules[0].id"),
    ]
    for rules, status, code, field in cases:
        r = put_rules(server, rules, before[1])
        if code == "invalid_expression":  # the issue is the compiler's diagnostic, not snake_case
            assert r.status == status and r.json["error"]["code"] == code, r
            err = r.json["error"]
            assert "column" in err["details"][0]["issue"], err
        else:
            err = assert_error(r, status, code)
        assert field in {d["field"] for d in err["details"]}, (field, err)
    dup = assert_error(put_rules(server, [good, dict(good)], before[1]), 422, "validation_failed")
    assert {"field": "rules[1].id", "issue": "duplicate"} in dup["details"], dup
    assert_error(server.request("PUT", "/v1/rules", {"rules": [good], "extra": 1}, key="admin",
                                headers={"If-Match": f'"{before[1]}"'}), 422, "validation_failed",
                 [("extra", "unknown_field")])
    assert_error(server.request("PUT", "/v1/rules", {}, key="admin", headers={"If-Match": f'"{before[1]}"'}),
                 422, "validation_failed", [("rules", "required")])
    too_many = [rule_body(f"amount == {i}", code=f"c{i}") for i in range(1001)]
    assert_error(put_rules(server, too_many, before[1]), 422, "validation_failed", [("rules", "too_many")])
    assert live(server) == before
    assert rule_audit(server) == audit_before


def test_roles(server):
    before = live(server)
    for key, status, code in (("analyst", 403, "forbidden"), ("validator", 403, "forbidden"),
                              (None, 401, "unauthorized")):
        assert_error(put_rules(server, [], before[1], key=key), status, code)
    assert live(server) == before
    # The analyst may read the set (and its ETag).
    r = server.request("GET", "/v1/rules", key="analyst")
    assert r.status == 200 and r.header("etag") == f'"{before[1]}"', r


def test_a_thousand_rules_fit(server):
    base, v0 = live(server)
    m = unique_merchant("big")
    many = [rule_body(f"merchant_id == '{m}' && amount == {i}", code=f"big_{i}", id=f"{m}-{i:04d}",
                      name=f"big rule {i} " + "x" * 100) for i in range(1000)]
    r = put_rules(server, many, v0)
    assert r.status == 200, r
    assert r.json["rules_version"] == v0 + 1 and len(r.json["created"]) == 1000
    assert len(r.json["deleted"]) == len(base)
    assert len(live(server)[0]) == 1000
    assert server.validate_ok(sample_txn(merchant_id=m, amount=999))["decision"] == "decline"
    # And back to what it was, in one more bump.
    r = put_rules(server, [as_body(x) for x in base], v0 + 1)
    assert r.status == 200, r
    assert r.json["rules_version"] == v0 + 2 and len(r.json["deleted"]) == 1000
    assert [x["id"] for x in live(server)[0]] == [x["id"] for x in base]


def test_every_replica_decides_with_the_new_set(make_cluster):
    """Replica mode only: a set put through one replica reaches the other's decisions."""
    a, b = make_cluster(n=2)
    m = unique_merchant("rep")
    base, v0 = live(a)
    r = put_rules(a, base + [rule_body(f"merchant_id == '{m}'", "decline", "rep_decline", id=unique_name("rep"))],
                  v0)
    assert r.status == 200, r
    assert live(b)[1] == v0 + 1  # one store: the other replica reads the new version at once
    poll(lambda: b.validate_ok(sample_txn(merchant_id=m))["decision"] == "decline", 10,
         what="the other replica deciding with the new set")
