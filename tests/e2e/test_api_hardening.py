"""The API-layer holes of issue 8: the bearer scheme's case, repeated JSON keys,
card numbers in free text, key scoping and revocation, bounded audit entries."""

from __future__ import annotations

import json
import re

import pytest

from txvtest import (REQUEST_TIMEOUT, assert_error, make_pan, poll, run_cli, sample_txn, unique_id,
                     unique_merchant)

PAN = "4111111111111111"
DIGIT_RUN = re.compile(rb"\d{12,}")


def no_digit_run(data: bytes) -> bool:
    return DIGIT_RUN.search(data) is None


# ---------------------------------------------------------------- bearer scheme


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_bearer_scheme_is_case_insensitive(server, scheme):
    r = server.request("GET", "/v1/transactions?limit=1", headers={"Authorization": f"{scheme} {server.keys['admin']}"})
    assert r.status == 200, r


def test_other_schemes_still_refused(server):
    r = server.request("GET", "/v1/transactions?limit=1", headers={"Authorization": f"Bearerx {server.keys['admin']}"})
    assert_error(r, 401, "unauthorized")


# ---------------------------------------------------------------- repeated keys


@pytest.mark.parametrize("raw", [
    '{{"transaction_id":"{t}","transaction_id":"{t}-2","merchant_id":"m-dup","amount":1,"currency":"USD","card":{{"token":"tok"}}}}',
    '{{"transaction_id":"{t}","merchant_id":"m-dup","amount":1,"amount":2,"currency":"USD","card":{{"token":"tok"}}}}',
    '{{"transaction_id":"{t}","merchant_id":"m-dup","amount":1,"currency":"USD","card":{{"token":"a","token":"b"}}}}',
])
def test_repeated_json_key_is_malformed_and_nothing_is_stored(server, raw):
    txn = unique_id("dup")
    r = server.request("POST", "/v1/transactions/validate", raw=raw.format(t=txn).encode(), key="admin")
    err = assert_error(r, 400, "malformed_json")
    assert "repeated key" in err["message"]
    for candidate in (txn, f"{txn}-2"):
        assert server.get_txn("m-dup", candidate).status == 404


def test_repeated_key_in_a_rule_body_is_malformed(server):
    raw = b'{"name":"a","name":"b","expression":"amount > 1","action":"decline","code":"x"}'
    assert_error(server.request("POST", "/v1/rules", raw=raw, key="admin"), 400, "malformed_json")


# ---------------------------------------------------------------- card numbers in free text


@pytest.mark.parametrize("metadata,field", [
    ({"note": f"card {PAN} thanks"}, "metadata.note"),
    ({"note": "4111 1111 1111 1111"}, "metadata.note"),
    ({"note": "5555-5555-5555-4444"}, "metadata.note"),
    ({PAN: "x"}, "metadata"),
])
def test_card_number_in_metadata_is_refused_without_echo(server, metadata, field):
    txn = sample_txn(metadata=metadata)
    r = server.validate(txn)
    assert_error(r, 422, "validation_failed", details=[(field, "looks_like_card_number")])
    assert no_digit_run(r.body.replace(b" ", b"").replace(b"-", b"")), r.body
    assert server.get_txn(txn["merchant_id"], txn["transaction_id"]).status == 404


def test_numeric_order_ids_and_short_numbers_are_kept(server):
    # An order id that passes Luhn is the client's own identifier, kept as sent.
    txn = sample_txn(transaction_id="4111111111111111", metadata={"order": "4111111111111112", "ref": "123456789012"})
    doc = server.validate_ok(txn)
    assert doc["transaction_id"] == "4111111111111111"


def test_card_number_in_resolution_note_is_refused(server):
    txn = sample_txn(amount=77)
    rule = server.create_rule({"name": unique_id("rev"), "expression": f"transaction_id == '{txn['transaction_id']}'",
                               "action": "review", "code": "manual_review"})
    assert rule.status == 201, rule
    assert server.validate_ok(txn)["decision"] == "review"
    r = server.resolve(txn["merchant_id"], txn["transaction_id"], {"decision": "approve", "note": f"pan {PAN}"})
    assert_error(r, 422, "validation_failed", details=[("note", "looks_like_card_number")])
    assert no_digit_run(r.body)
    stored = server.get_txn(txn["merchant_id"], txn["transaction_id"]).json
    assert "resolution" not in stored or stored["resolution"] is None


def test_card_number_in_rule_name_is_refused(server):
    r = server.create_rule({"name": f"block {PAN}", "expression": "amount > 1", "action": "decline", "code": "x"})
    assert_error(r, 422, "validation_failed", details=[("name", "looks_like_card_number")])
    assert no_digit_run(r.body)


def test_rule_syntax_error_masks_long_digit_runs(server):
    r = server.create_rule({"name": "n", "expression": "amount > 6011593726516766x", "action": "decline", "code": "x"})
    assert r.status == 422 and r.json["error"]["code"] == "invalid_expression", r
    assert no_digit_run(r.body), r.body
    assert "column 10" in r.json["error"]["details"][0]["issue"], r.json  # still names the column


# ---------------------------------------------------------------- body limits


def test_validate_batch_takes_500_ordinary_items(server):
    items = [sample_txn(metadata={"channel": "web", "campaign": "x" * 40}) for _ in range(500)]
    body = json.dumps({"transactions": items}).encode()
    assert 64 * 1024 < len(body) < 1024 * 1024
    r = server.request("POST", "/v1/transactions/validate-batch", raw=body, key="admin")
    assert r.status == 200, r
    assert len(r.json["results"]) == 500


def test_413_names_the_route_limit(server):
    big = b'{"transactions":[' + b'"' + b"x" * (1024 * 1024) + b'"]}'
    r = server.post_oversized("/v1/transactions/validate-batch", big)
    err = assert_error(r, 413, "payload_too_large")
    assert "1 MiB" in err["message"], err
    r = server.post_oversized("/v1/transactions/validate", b'{"a":"' + b"x" * (70 * 1024) + b'"}')
    assert "64 KiB" in assert_error(r, 413, "payload_too_large")["message"]


# ---------------------------------------------------------------- keys: scope, list, revoke


def test_validator_key_needs_a_merchant_and_admin_key_refuses_one(server):
    env_args = ["--database-url", server.database_url]
    cp = run_cli(["apikey", "create", "--role", "validator", *env_args])
    assert cp.returncode == 2 and cp.stdout == "" and "--merchant" in cp.stderr, cp
    cp = run_cli(["apikey", "create", "--role", "admin", "--merchant", "m-1", *env_args])
    assert cp.returncode == 2 and cp.stdout == "" and "--merchant" in cp.stderr, cp


def test_apikey_list_shows_keys_never_secrets(server):
    cp = run_cli(["apikey", "list", "--database-url", server.database_url], env=server.cli_env())
    assert cp.returncode == 0, cp
    for label, secret in server.keys.items():
        assert secret not in cp.stdout
        assert server.key_names[label] in cp.stdout
    assert "txv_" not in cp.stdout
    assert "validator" in cp.stdout and "admin" in cp.stdout


def test_revoked_key_is_refused_at_once(server):
    merchant = unique_merchant()
    secret = server.create_key(unique_id("rv"), "validator", merchant=merchant)
    assert server.validate(sample_txn(merchant_id=merchant), key=secret).status == 200
    listed = run_cli(["apikey", "list", "--database-url", server.database_url], env=server.cli_env()).stdout
    key_id = next(line.split()[0] for line in listed.splitlines() if merchant in line)
    cp = run_cli(["apikey", "revoke", key_id, "--database-url", server.database_url], env=server.cli_env())
    assert cp.returncode == 0, cp
    # Effective within the documented second on every replica: poll with a deadline.
    poll(lambda: server.validate(sample_txn(merchant_id=merchant), key=secret).status == 401, REQUEST_TIMEOUT,
         what="revoked key refused")
    assert_error(server.validate(sample_txn(merchant_id=merchant), key=secret), 401, "unauthorized")
    cp = run_cli(["apikey", "revoke", "key_doesnotexist", "--database-url", server.database_url], env=server.cli_env())
    assert cp.returncode == 1


# ---------------------------------------------------------------- bounded audit entries


def test_list_change_audit_entry_is_bounded(server):
    name = unique_id("bigl").replace("-", "_")
    first = [f"v{i:06d}" for i in range(20000)]
    second = [f"v{i:06d}" for i in range(5000, 30000)]
    assert server.put_list(name, first).status == 200
    assert server.put_list(name, second).status == 200
    r = server.audit(object_type="list", object_id=name, limit=10)
    assert r.status == 200, r
    entries = r.json["items"]
    assert len(entries) == 2
    latest = entries[0]
    assert len(json.dumps(latest)) < 64 * 1024, len(json.dumps(latest))
    after = latest["after"]
    assert (after["added_count"], after["removed_count"], after["entry_count"]) == (10000, 5000, 25000), after
    assert len(after["added"]) <= 100 and len(after["removed"]) <= 100
    assert after["truncated"] is True


def test_audit_pages_are_bounded_in_bytes(server):
    name = unique_id("pg").replace("-", "_")
    for round_ in range(6):
        assert server.put_list(name, [f"r{round_}-{i:06d}" for i in range(3000)]).status == 200
    r = server.audit(limit=500)
    assert r.status == 200
    assert len(r.body) < 4 * 1024 * 1024


def test_analyst_scoped_to_a_merchant_resolves_only_its_reviews(server):
    own, other = unique_merchant(), unique_merchant()
    secret = server.create_key(unique_id("an"), "analyst", merchant=own)
    rule = server.create_rule({"name": unique_id("scoperev"), "expression": "amount == 4321", "action": "review",
                               "code": "scope_review"})
    assert rule.status == 201, rule
    mine, theirs = sample_txn(merchant_id=own, amount=4321), sample_txn(merchant_id=other, amount=4321)
    assert server.validate_ok(mine)["decision"] == "review"
    assert server.validate_ok(theirs)["decision"] == "review"
    r = server.resolve(other, theirs["transaction_id"], {"decision": "approve", "note": "ok"}, key=secret)
    assert_error(r, 404, "not_found")
    assert server.get_txn(other, theirs["transaction_id"]).json.get("resolution") is None
    r = server.resolve(own, mine["transaction_id"], {"decision": "approve", "note": "ok"}, key=secret)
    assert r.status == 200, r
    assert server.request("DELETE", f"/v1/rules/{rule.json['id']}", key="admin").status == 204
