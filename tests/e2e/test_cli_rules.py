"""Section 12: rules as code, `txv rules export|plan|apply` against a real server (docs/rules-as-code.md).

The apply tests send PUT /v1/rules; the others need only GET /v1/rules and the backtests API.
"""

from __future__ import annotations

import re

import pytest
import yaml

from rulestest import fresh_customer
from txvtest import card, make_pan, run_cli, sample_txn, unique_merchant

TRICKY = [
    ("quotes", """customer.email.endsWith("@example.com") && metadata.note != 'it\\'s'"""),
    ("hash and colon", "metadata.tag == '#x: y' && merchant.mcc == '5411'"),
    ("unicode", "metadata.city == 'Zürich ✓ 日本'"),
    ("backslash", "metadata.path == 'a\\\\b'"),
]


def cli(srv, *args: str, key: str = "admin"):
    return run_cli(["rules", *args, "--url", srv.base_url], env={**srv.cli_env(), "TXV_API_KEY": srv.keys[key]})


def live(srv) -> dict:
    r = srv.request("GET", "/v1/rules", key="admin")
    assert r.status == 200, r
    return r.json


def add_rule(srv, name: str, expression: str, action: str = "decline", code: str = "c", priority: int = 10,
             mode: str = "enforce") -> dict:
    r = srv.request("POST", "/v1/rules", {"name": name, "expression": expression, "action": action, "code": code,
                                          "priority": priority, "mode": mode}, key="admin")
    assert r.status == 201, r
    return r.json


def export(srv) -> str:
    cp = cli(srv, "export")
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def strip(rule: dict) -> tuple:
    return (rule["name"], rule["expression"], rule["action"], rule["code"], rule["priority"], rule["mode"])


@pytest.fixture
def put_rules(make_server):
    """A server of its own (apply changes the whole rule set)."""
    srv = make_server()
    r = srv.request("PUT", "/v1/rules", {"rules": []}, key="admin")
    assert r.status == 428, f"PUT /v1/rules without If-Match must be 428, got {r!r}"
    return srv


def test_export_is_stable_and_round_trips(make_server, tmp_path):
    srv = make_server()
    for i, (name, expression) in enumerate(TRICKY):
        add_rule(srv, name, expression, code=f"tricky_{i}", priority=50 - i, mode="shadow" if i % 2 else "enforce")
    add_rule(srv, "same priority b", "amount > 2", priority=5)
    add_rule(srv, "same priority a", "amount > 1", priority=5)
    before = live(srv)

    first, second = export(srv), export(srv)
    assert first == second
    doc = yaml.safe_load(first)
    assert doc["rules_version"] == before["rules_version"]
    assert all(list(r) == ["id", "name", "expression", "action", "code", "priority", "mode"] for r in doc["rules"])
    keys = [(r["priority"], r["id"]) for r in doc["rules"]]
    assert keys == sorted(keys)
    # Every field, ids included, reads back as the server has it.
    assert sorted((r["id"], *strip(r)) for r in doc["rules"]) == sorted((r["id"], *strip(r)) for r in before["items"])

    path = tmp_path / "rules.yaml"
    path.write_text(first, encoding="utf-8")
    cp = cli(srv, "apply", str(path))
    assert cp.returncode == 0, cp.stderr
    assert "nothing to do" in cp.stdout
    assert live(srv)["rules_version"] == before["rules_version"]

    cp = cli(srv, "plan", str(path), "--since", "1h")
    assert cp.returncode == 0, cp.stderr
    assert "nothing to change (6 unchanged)" in cp.stdout


def test_export_of_an_empty_set(make_server):
    srv = make_server()
    doc = yaml.safe_load(export(srv))
    assert doc == {"rules_version": live(srv)["rules_version"], "rules": []}


def test_plan_shows_each_change_and_the_backtest(make_server, tmp_path):
    srv = make_server()
    big = add_rule(srv, "big", "amount > 100000", code="too_big", priority=10)
    old = add_rule(srv, "old", "amount == 7", action="review", code="old", priority=20)
    merchant = unique_merchant("plan")
    for amount in (1000, 60000, 150000):
        body = sample_txn(merchant_id=merchant, card=card(make_pan("4", 16)), amount=amount,
                          customer=fresh_customer())
        assert srv.request("POST", "/v1/transactions/validate", body, key="admin").status == 200

    doc = yaml.safe_load(export(srv))
    rules = [r for r in doc["rules"] if r["id"] != old["id"]]
    next(r for r in rules if r["id"] == big["id"])["expression"] = "amount > 50000"
    rules.append({"name": "tiny", "expression": "amount < 10", "action": "review", "code": "tiny",
                  "priority": 30, "mode": "enforce"})
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"rules_version": doc["rules_version"], "rules": rules}, sort_keys=False))

    version = live(srv)["rules_version"]
    cp = cli(srv, "plan", str(path), "--since", "1h")
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout
    assert '+ create "tiny" (review tiny, priority 30, enforce)' in out, out
    assert f'~ update {big["id"]} "big"\n    expression: "amount > 100000" -> "amount > 50000"' in out, out
    assert f'- delete {old["id"]} "old"' in out, out
    assert "1 to create, 1 to update, 1 to delete, 0 unchanged" in out, out
    # The backtest of the three transactions: 60,000 moves from approve to decline.
    assert "backtest over 3 transactions" in out, out
    assert re.search(r"^approve\s+2\s+1\s+-1\b", out, re.M), out
    assert re.search(r"^decline\s+1\s+2\s+\+1\b", out, re.M), out
    assert re.search(r"^\s+approve->decline\s+1$", out, re.M), out
    assert re.search(rf"^{re.escape(big['id'])} \(big\)\s+1\s+2$", out, re.M), out
    assert re.search(r"^tiny\s+0\s+0$", out, re.M), out
    # A plan changes nothing.
    assert live(srv)["rules_version"] == version


@pytest.mark.parametrize("text,where", [
    ("rules_version: 1\nrules:\n  - name: [unclosed\n", "line 4, column 1: not valid YAML"),
    ("rules_version: 1\nrules:\n  - name: a\n    expression: amount > 1\n    action: decline\n    priority: 1\n",
     "line 3, column 5: rule 1: missing key 'code'"),
])
def test_plan_and_apply_refuse_a_bad_file_with_its_line(make_server, tmp_path, text, where):
    srv = make_server()
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    version = live(srv)["rules_version"]
    for verb in ("plan", "apply"):
        cp = cli(srv, verb, str(path))
        assert cp.returncode == 1, (verb, cp.stdout, cp.stderr)
        assert where in cp.stderr, cp.stderr
    assert live(srv)["rules_version"] == version


def test_usage_errors(make_server, tmp_path):
    srv = make_server()
    cp = run_cli(["rules", "export", "--url", srv.base_url])
    assert cp.returncode == 2 and "TXV_API_KEY" in cp.stderr, cp
    cp = cli(srv, "plan", str(tmp_path / "x.yaml"), "--since", "7s")
    assert cp.returncode == 2 and "--since" in cp.stderr, cp
    cp = cli(srv, "apply", str(tmp_path / "missing.yaml"))
    assert cp.returncode == 1 and "cannot open" in cp.stderr, cp
    cp = cli(srv, "export", key="validator")
    assert cp.returncode == 1 and cp.stdout == "", cp


def test_apply_with_a_stale_version_exits_3_and_changes_nothing(put_rules, tmp_path):
    srv = put_rules
    add_rule(srv, "a", "amount > 1000", code="a")
    doc = yaml.safe_load(export(srv))
    doc["rules"][0]["expression"] = "amount > 2000"
    path = tmp_path / "stale.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    add_rule(srv, "meanwhile", "amount > 3000", code="meanwhile")  # the live set moves on
    before = live(srv)

    cp = cli(srv, "apply", str(path))
    assert cp.returncode == 3, (cp.stdout, cp.stderr)
    assert "version mismatch" in cp.stderr
    assert live(srv) == before


def test_apply_of_an_edited_file_changes_the_live_set(put_rules, tmp_path):
    srv = put_rules
    keep = add_rule(srv, "keep", "amount > 1", code="keep", priority=1)
    edit = add_rule(srv, "edit", "amount > 2", code="edit", priority=2)
    gone = add_rule(srv, "gone", "amount > 3", code="gone", priority=3)
    doc = yaml.safe_load(export(srv))
    rules = [r for r in doc["rules"] if r["id"] != gone["id"]]
    target = next(r for r in rules if r["id"] == edit["id"])
    target.update({"expression": "amount > 20", "mode": "shadow", "name": "edited: 'quoted' #1"})
    rules.append({"name": "new ✓", "expression": "metadata.k == 'a: b'", "action": "review", "code": "fresh",
                  "priority": 4, "mode": "enforce"})
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump({"rules_version": doc["rules_version"], "rules": rules}, sort_keys=False,
                                   allow_unicode=True), encoding="utf-8")

    cp = cli(srv, "apply", str(path))
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert "applied: 1 created, 1 updated, 1 deleted" in cp.stdout, cp.stdout

    after = live(srv)
    assert after["rules_version"] > doc["rules_version"]
    by_id = {r["id"]: r for r in after["items"]}
    assert gone["id"] not in by_id
    assert strip(by_id[keep["id"]]) == strip(keep)
    assert strip(by_id[edit["id"]]) == ("edited: 'quoted' #1", "amount > 20", "decline", "edit", 2, "shadow")
    assert sorted(strip(r) for r in after["items"]) == sorted(strip(r) for r in rules)

    # Applying the same file again (its new rule still without an id, its rules_version now stale) is "nothing to
    # do": the id-less rule matches the live rule it created.
    cp = cli(srv, "apply", str(path))
    assert cp.returncode == 0 and "nothing to do" in cp.stdout, (cp.stdout, cp.stderr)
    assert live(srv)["rules_version"] == after["rules_version"]
