"""Helpers for the rules, lists, audit and velocity suites (test_rules, test_lists,
test_audit, test_velocity, tests/faults/test_velocity_restart).

Builds on txvtest (TxvServer, sample_txn, make_pan, ...).  Standard library only.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import threading
import uuid
from typing import Any, Iterable
from urllib.parse import quote

from txvtest import (REQUEST_TIMEOUT, RFC3339_Z, Resp, TxvServer, card, make_pan, sample_txn, unique_id,
                     unique_merchant, send_body_read_early_response)

RULE_FIELDS = {"id", "name", "expression", "action", "code", "priority", "mode", "version", "created_at",
               "updated_at"}
ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
COLUMN_RE = re.compile(r"\bcolumn (\d+)\b")

_seq = itertools.count(1)
_run = uuid.uuid4().hex[:6]


# --------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------


def rule_path(rule_id: str) -> str:
    return "/v1/rules/" + quote(rule_id, safe="")


def list_path(name: str) -> str:
    return "/v1/lists/" + quote(name, safe="")


def entry_path(name: str, value: str) -> str:
    return list_path(name) + "/entries/" + quote(value, safe="")


def unique_name(prefix: str = "x") -> str:
    """An id / list name (A-Za-z0-9._:-, ≤ 64 chars) unique in this run."""
    return unique_id(prefix)


def unique_code(prefix: str = "c") -> str:
    """A snake_case reason code unique in this run."""
    return f"{prefix}_{_run}_{next(_seq)}"


def send_oversized(srv: TxvServer, method: str, path: str, raw: bytes, key: str = "admin") -> Resp:
    """Like TxvServer.post_oversized, for any method: sends a body the server may refuse part-way."""
    auth = "".join(f"{k}: {v}\r\n" for k, v in srv.auth_header(key).items())
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {len(raw)}\r\n\r\n").encode()
    return send_body_read_early_response(srv.port, head, raw)


# --------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------


def rule_body(expression: str, action: str = "decline", code: str | None = None, **extra: Any) -> dict:
    body = {"name": extra.pop("name", f"rule {code or expression[:40]}"), "expression": expression,
            "action": action, "code": code or unique_code("r")}
    body.update(extra)
    return body


def assert_rule_shape(rule: Any) -> dict:
    assert isinstance(rule, dict), rule
    # POST/PUT answers also carry the analysis warnings (contract section 12); the rule is
    # returned without them, as GET shows it (tests/e2e/test_rule_analysis.py checks them).
    warnings = rule.get("warnings", [])
    assert isinstance(warnings, list) and all(isinstance(w, dict) and {"code", "message"} <= set(w)
                                              for w in warnings), rule
    rule = {k: v for k, v in rule.items() if k != "warnings"}
    assert set(rule) == RULE_FIELDS, f"rule members: {sorted(rule)}"
    assert isinstance(rule["id"], str) and ID_RE.match(rule["id"]), rule
    for k in ("name", "expression", "action", "code", "mode"):
        assert isinstance(rule[k], str), (k, rule)
    assert rule["action"] in ("decline", "review", "approve"), rule
    assert rule["mode"] in ("enforce", "shadow", "disabled"), rule
    assert type(rule["priority"]) is int and type(rule["version"]) is int and rule["version"] >= 1, rule
    assert RFC3339_Z.match(rule["created_at"]) and RFC3339_Z.match(rule["updated_at"]), rule
    assert rule["updated_at"] >= rule["created_at"], rule
    return rule


def create_rule_ok(srv: TxvServer, expression: str, action: str = "decline", code: str | None = None,
                   **extra: Any) -> dict:
    body = rule_body(expression, action, code, **extra)
    r = srv.request("POST", "/v1/rules", body, key="admin")
    assert r.status == 201, f"POST /v1/rules {body!r} -> {r!r}"
    return assert_rule_shape(r.json)


def delete_rule_ok(srv: TxvServer, rule_id: str) -> None:
    r = srv.request("DELETE", rule_path(rule_id), key="admin")
    assert r.status == 204, f"DELETE rule {rule_id} -> {r!r}"


def rules_version(srv: TxvServer) -> int:
    r = srv.request("GET", "/v1/rules", key="admin")
    assert r.status == 200, r
    v = r.json["rules_version"]
    assert type(v) is int, r
    return v


class Rules:
    """Creates rules and deletes them again (use as a context manager)."""

    def __init__(self, srv: TxvServer):
        self.srv = srv
        self.ids: list[str] = []

    def add(self, expression: str, action: str = "decline", code: str | None = None, **extra: Any) -> dict:
        rule = create_rule_ok(self.srv, expression, action, code, **extra)
        self.ids.append(rule["id"])
        return rule

    def close(self) -> None:
        for rid in reversed(self.ids):
            r = self.srv.request("DELETE", rule_path(rid), key="admin")
            assert r.status in (204, 404), r
        self.ids.clear()

    def __enter__(self) -> "Rules":
        return self

    def __exit__(self, *exc) -> None:
        if self.srv.running():
            self.close()


def assert_invalid_expression(resp: Resp, column: int | None = None, contains: str | None = None) -> str:
    """Asserts 422 invalid_expression, details[0].field == 'expression' and 'column N' in its issue.

    Returns the issue text.  (The contract puts the human message in details[0].issue here, so the
    snake_case check of txvtest.assert_error does not apply.)
    """
    assert resp.status == 422, f"expected 422 invalid_expression, got {resp!r}"
    ctype = (resp.header("content-type") or "").split(";")[0].strip().lower()
    assert ctype == "application/json", resp
    doc = resp.json
    assert isinstance(doc, dict) and set(doc) == {"error"}, doc
    err = doc["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert err["code"] == "invalid_expression", err
    assert isinstance(err["message"], str) and err["message"].strip(), err
    assert isinstance(err["details"], list) and err["details"], err
    d0 = err["details"][0]
    assert isinstance(d0, dict) and set(d0) == {"field", "issue"}, d0
    assert d0["field"] == "expression", d0
    issue = d0["issue"]
    m = COLUMN_RE.search(issue)
    assert m, f"no 'column N' in {issue!r}"
    if column is not None:
        assert int(m.group(1)) == column, f"expected column {column}, got {issue!r}"
    if contains is not None:
        assert contains in issue, f"{contains!r} not in {issue!r}"
    return issue


# --------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------


def reason_codes(decision: dict) -> list[str]:
    return [r["code"] for r in decision["reasons"]]


def rule_reasons(decision: dict) -> list[dict]:
    return [r for r in decision["reasons"] if r.get("source") == "rule"]


def shadow_codes(decision: dict) -> list[str]:
    return [s["code"] for s in decision["shadow_matches"]]


_ip_seq = itertools.count(1)
_ip_base = uuid.uuid4().int & 0xFFFF


def fresh_ip() -> str:
    """A documentation-range IPv6 literal never returned before in this process."""
    n = next(_ip_seq)
    return f"2001:db8:{_ip_base:x}:{(n >> 16) & 0xFFFF:x}::{n & 0xFFFF:x}"


def fresh_customer(**overrides: Any) -> dict:
    cid = unique_id("cust")
    cust = {"id": cid, "email": f"{cid}@shop.test", "ip": fresh_ip(), "country": "US",
            "device_id": unique_id("dev")}
    cust.update(overrides)
    return cust


def fresh_txn(**overrides: Any) -> dict:
    """sample_txn with a fresh card, merchant, customer id/email/ip/device: shares no velocity key with any
    other transaction unless the overrides say so."""
    body = sample_txn(merchant_id=unique_merchant("mv"), card=card(make_pan("4", 16)), customer=fresh_customer())
    body.update(overrides)
    return body


# --------------------------------------------------------------------------
# Velocity probes: shadow rules that reveal velocity(KEY, WINDOW) exactly
# --------------------------------------------------------------------------


class VelocityProbe:
    """Installs shadow rules whose matches spell out velocity(KEY, WINDOW).count and .amount in binary.

    ``read(decision)`` returns (count, amount), or None when the counter was absent (the
    transaction has no value for KEY).  Shadow rules never change a decision.
    """

    def __init__(self, srv: TxvServer, key: str, window: str = "1h", count_bits: int = 8, amount_bits: int = 24):
        self.key, self.window = key, window
        self.prefix = f"vp_{key}_{window}_{_run}_"
        self.count_bits, self.amount_bits = count_bits, amount_bits
        v = f"velocity('{key}', '{window}')"
        self.rules = [create_rule_ok(srv, f"{v}.count >= 0", "review", self.prefix + "present", mode="shadow")]
        for b in range(count_bits):
            self.rules.append(create_rule_ok(srv, f"({v}.count / {1 << b}) % 2 == 1", "review",
                                             f"{self.prefix}c{b}", mode="shadow"))
        for b in range(amount_bits):
            self.rules.append(create_rule_ok(srv, f"({v}.amount / {1 << b}) % 2 == 1", "review",
                                             f"{self.prefix}a{b}", mode="shadow"))

    def read(self, decision: dict) -> tuple[int, int] | None:
        codes = {c for c in shadow_codes(decision) if c.startswith(self.prefix)}
        if self.prefix + "present" not in codes:
            assert not codes, f"bits without presence: {codes}"
            return None
        count = sum(1 << b for b in range(self.count_bits) if f"{self.prefix}c{b}" in codes)
        amount = sum(1 << b for b in range(self.amount_bits) if f"{self.prefix}a{b}" in codes)
        return count, amount

    def delete(self, srv: TxvServer) -> None:
        for r in self.rules:
            delete_rule_ok(srv, r["id"])


# --------------------------------------------------------------------------
# Many clients at once
# --------------------------------------------------------------------------


class Crowd:
    """N clients, each with its own keep-alive connection, that fire together (a barrier)."""

    def __init__(self, srv: TxvServer, n: int, key: str = "admin", timeout: float = REQUEST_TIMEOUT):
        self.srv, self.n = srv, n
        self.secret = srv.keys.get(key, key)
        self.conns = [http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout) for _ in range(n)]
        for c in self.conns:  # open and warm every connection before any round
            c.request("GET", "/livez")
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
            assert c.sock is not None

    def _post(self, i: int, path: str, body: Any) -> Resp:
        c = self.conns[i]
        c.request("POST", path, body=json.dumps(body).encode(),
                  headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.secret}"})
        r = c.getresponse()
        data = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.reason)

    def post_all(self, path: str, bodies: list[Any]) -> list[Resp]:
        """POSTs bodies[i] on connection i, all threads released by one barrier; returns the answers."""
        return self.post_each([path] * len(bodies), bodies)

    def post_each(self, paths: list[str], bodies: list[Any]) -> list[Resp]:
        """POSTs bodies[i] to paths[i] on connection i, all released by one barrier; returns the answers."""
        assert len(bodies) == self.n == len(paths)
        barrier = threading.Barrier(self.n)
        results: list[Any] = [None] * self.n

        def worker(i: int) -> None:
            try:
                barrier.wait(timeout=REQUEST_TIMEOUT)
                results[i] = self._post(i, paths[i], bodies[i])
            except BaseException as e:  # noqa: BLE001 - reported below
                results[i] = e

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(self.n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(REQUEST_TIMEOUT * 2)
            assert not t.is_alive(), "a client thread hung"
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, f"{len(errors)} client errors, first: {errors[0]!r}"
        return results

    def close(self) -> None:
        for c in self.conns:
            c.close()


# --------------------------------------------------------------------------
# Audit
# --------------------------------------------------------------------------

AUDIT_FIELDS = {"id", "at", "actor", "action", "object_type", "object_id", "before", "after"}


def audit_all(srv: TxvServer, key: str = "admin", limit: int = 500, max_pages: int = 1000, **params: Any) -> list:
    """Every audit entry matching params, newest first, following next_cursor."""
    items: list = []
    cursor = None
    for _ in range(max_pages):
        r = srv.audit(key=key, limit=limit, cursor=cursor, **params)
        assert r.status == 200, r
        doc = r.json
        assert set(doc) == {"items", "next_cursor"}, doc
        items.extend(doc["items"])
        cursor = doc["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("too many audit pages")


def newest_audit(srv: TxvServer, n: int, **params: Any) -> list:
    r = srv.audit(limit=n, **params)
    assert r.status == 200, r
    return r.json["items"]


def strip_ids(items: Iterable[dict]) -> list[tuple]:
    return [(e["action"], e["object_type"], e["object_id"]) for e in items]
