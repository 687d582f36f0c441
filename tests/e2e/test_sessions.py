"""Section 13 (console sessions) through the real binary: sign in with a key, the cookie's
attributes, the CSRF token on unsafe methods, the key's role, sign out, a revoked key ending
its sessions, only hashes stored, and (replica mode) one session served by every replica."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from txvtest import (REPLICA, REQUEST_TIMEOUT, RFC3339_Z, assert_error, poll, redis_command, run_cli, unique_id)


def sign_in(srv, key_label: str = "analyst"):
    """(token, csrf_token, response) of a new session for the key `key_label`."""
    r = srv.request("POST", "/v1/sessions", {"api_key": srv.keys.get(key_label, key_label)})
    assert r.status == 201, r
    cookie = r.header("set-cookie")
    assert cookie and cookie.startswith("txv_session="), r.headers
    token = cookie.split(";", 1)[0].split("=", 1)[1]
    return token, r.json["csrf_token"], r


def with_session(token: str, csrf: str | None = None) -> dict[str, str]:
    h = {"Cookie": f"txv_session={token}"}
    if csrf is not None:
        h["X-CSRF-Token"] = csrf
    return h


def test_sign_in_sets_a_strict_http_only_cookie(server):
    token, csrf, r = sign_in(server)
    body = r.json
    assert set(body) == {"csrf_token", "role", "expires_at"}
    assert body["role"] == "analyst" and RFC3339_Z.match(body["expires_at"])
    attributes = [a.strip() for a in r.header("set-cookie").split(";")]
    assert "HttpOnly" in attributes and "SameSite=Strict" in attributes and "Path=/" in attributes
    assert "Max-Age=43200" in attributes
    assert "Secure" not in attributes  # no TLS here
    assert r.header("cache-control") == "no-store"
    assert len(token) == 47 and token.startswith("txs_") and len(csrf) == 43


def test_the_cookie_authenticates_with_the_keys_role(server):
    token, csrf, _ = sign_in(server)
    assert server.request("GET", "/v1/transactions?limit=1", headers=with_session(token)).status == 200
    current = server.request("GET", "/v1/sessions/current", headers=with_session(token))
    assert current.status == 200, current
    assert current.json["csrf_token"] == csrf
    assert current.json["role"] == "analyst" and current.json["name"] == server.key_names["analyst"]
    assert current.json["merchant_id"] is None
    # An analyst's session may check a rule but not create one.
    assert server.request("POST", "/v1/rules/check", {"expression": "amount > 1"},
                          headers=with_session(token, csrf)).status == 200
    assert_error(server.request("POST", "/v1/rules", {"name": "x", "expression": "amount > 1", "action": "decline",
                                                      "code": "x"}, headers=with_session(token, csrf)),
                 403, "forbidden")


def test_unsafe_methods_need_the_sessions_csrf_token(server):
    token, csrf, _ = sign_in(server, "admin")
    other_token, other_csrf, _ = sign_in(server, "admin")
    rule = {"name": unique_id("csrf"), "expression": "amount > 1", "action": "review", "code": "csrf_probe",
            "mode": "shadow"}
    before = server.request("GET", "/v1/rules", key="admin").json
    assert_error(server.request("POST", "/v1/rules", rule, headers=with_session(token)), 403, "forbidden")
    assert_error(server.request("POST", "/v1/rules", rule, headers=with_session(token, other_csrf)), 403, "forbidden")
    assert_error(server.request("POST", "/v1/rules", rule, headers=with_session(token, "")), 403, "forbidden")
    # Nothing was created by the refused requests.
    assert server.request("GET", "/v1/rules", key="admin").json == before
    created = server.request("POST", "/v1/rules", rule, headers=with_session(token, csrf))
    assert created.status == 201, created
    assert server.request("DELETE", f"/v1/rules/{created.json['id']}", headers=with_session(token, csrf)).status == 204
    # A Bearer key needs no CSRF token, and a request with both is the key's.
    assert server.request("POST", "/v1/rules/check", {"expression": "amount > 1"}, key="admin").status == 200
    assert other_token != token


def test_sign_in_refuses_what_is_not_a_console_key(server):
    assert_error(server.request("POST", "/v1/sessions", {"api_key": server.keys["validator"]}), 403, "forbidden")
    assert_error(server.request("POST", "/v1/sessions", {"api_key": "txv_" + "A" * 43}), 401, "unauthorized")
    assert_error(server.request("POST", "/v1/sessions", {"api_key": "nonsense"}), 401, "unauthorized")
    assert_error(server.request("POST", "/v1/sessions", {}), 422, "validation_failed", [("api_key", "required")])
    assert_error(server.request("POST", "/v1/sessions", {"api_key": 7}), 422, "validation_failed",
                 [("api_key", "invalid_type")])
    assert_error(server.request("POST", "/v1/sessions", {"api_key": server.keys["analyst"], "role": "admin"}), 422,
                 "validation_failed", [("role", "unknown_field")])
    assert_error(server.request("POST", "/v1/sessions", raw=json.dumps({"api_key": "x" * 2000}).encode()), 413,
                 "payload_too_large")
    # None of these set a cookie.
    r = server.request("POST", "/v1/sessions", {"api_key": server.keys["validator"]})
    assert r.header("set-cookie") is None


def test_garbage_cookies_are_refused_without_a_session(server):
    for value in ("", "x", "txs_" + "A" * 43, "txs_" + "!" * 43):
        r = server.request("GET", "/v1/transactions", headers={"Cookie": f"a=1; txv_session={value}; b=2"})
        assert_error(r, 401, "unauthorized")


def test_sign_out_ends_the_session_everywhere(server):
    token, csrf, _ = sign_in(server)
    assert_error(server.request("DELETE", "/v1/sessions/current", headers=with_session(token)), 403, "forbidden")
    r = server.request("DELETE", "/v1/sessions/current", headers=with_session(token, csrf))
    assert r.status == 204, r
    assert "Max-Age=0" in r.header("set-cookie")
    after = server.request("GET", "/v1/sessions/current", headers=with_session(token))
    assert_error(after, 401, "unauthorized")
    assert "sign in again" in after.json["error"]["message"]
    assert "Max-Age=0" in after.header("set-cookie")
    # A Bearer request has no session to end.
    assert_error(server.request("DELETE", "/v1/sessions/current", key="analyst"), 404, "not_found")


def test_revoking_the_key_ends_its_sessions(server):
    label = unique_id("sess")
    secret = server.create_key(label, "analyst")
    token, _, _ = sign_in(server, label)
    assert server.request("GET", "/v1/sessions/current", headers=with_session(token)).status == 200
    listed = run_cli(["apikey", "list", "--database-url", server.database_url], env=server.cli_env()).stdout
    key_id = next(line.split()[0] for line in listed.splitlines() if server.key_names[label] in line)
    assert run_cli(["apikey", "revoke", key_id, "--database-url", server.database_url],
                   env=server.cli_env()).returncode == 0
    poll(lambda: server.request("GET", "/v1/sessions/current", headers=with_session(token)).status == 401,
         REQUEST_TIMEOUT, what="session of a revoked key refused")
    r = server.request("GET", "/v1/sessions/current", headers=with_session(token))
    assert_error(r, 401, "unauthorized")
    assert "revoked" in r.json["error"]["message"] or "ended" in r.json["error"]["message"]
    assert_error(server.request("POST", "/v1/sessions", {"api_key": secret}), 401, "unauthorized")


def test_only_hashes_of_the_token_and_key_are_stored(server, tmp_path):
    token, csrf, _ = sign_in(server)
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    key_hash = hashlib.sha256(server.keys["analyst"].encode()).hexdigest()
    if REPLICA:
        stored = redis_command(server.replica.redis_url, "HGETALL", f"txv:session:{token_hash}")
        assert stored, "the session is in Redis"
        fields = dict(zip(stored[0::2], stored[1::2]))
        assert fields["key_hash"] == key_hash and fields["csrf"] == csrf
        ttl = int(redis_command(server.replica.redis_url, "PTTL", f"txv:session:{token_hash}"))
        assert 0 < ttl <= 30 * 60 * 1000  # the idle end
        dumped = b"".join(p.read_bytes() for p in server.replica.dump(tmp_path / "dump"))
    else:
        with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT id_hash, key_hash FROM sessions WHERE id_hash = ?", (token_hash,)).fetchall()
        assert rows == [(token_hash, key_hash)]
        dumped = b"".join(p.read_bytes() for p in server.data_dir.glob("txv.db*"))
    assert token.encode() not in dumped
    assert server.keys["analyst"].encode() not in dumped


@pytest.mark.skipif(not REPLICA, reason="replica mode: sessions shared through Redis")
def test_any_replica_serves_any_session(make_cluster):
    replicas = make_cluster(n=2)
    token, csrf, _ = sign_in(replicas[0])
    for srv in replicas:
        r = srv.request("GET", "/v1/sessions/current", headers=with_session(token))
        assert r.status == 200 and r.json["csrf_token"] == csrf, r
    assert replicas[1].request("DELETE", "/v1/sessions/current", headers=with_session(token, csrf)).status == 204
    assert_error(replicas[0].request("GET", "/v1/transactions", headers=with_session(token)), 401, "unauthorized")
