"""Authentication, the role matrix, merchant scoping and rate limiting."""

from __future__ import annotations

import pytest

from txvtest import OTHER_MERCHANT, SCOPED_MERCHANT, assert_error, poll, sample_txn, unique_id

ROLES = ("admin", "analyst", "validator", "scoped")


@pytest.fixture(scope="module")
def seeded(server):
    """One approved transaction for the scoped merchant and one for another merchant."""
    own = sample_txn(merchant_id=SCOPED_MERCHANT)
    other = sample_txn(merchant_id=OTHER_MERCHANT)
    server.validate_ok(own)
    server.validate_ok(other)
    return {"own": own, "other": other}


# ---------------------------------------------------------------- 401


def v1_endpoints(seeded):
    own = seeded["own"]
    return [
        ("POST", "/v1/transactions/validate", sample_txn()),
        ("POST", "/v1/transactions/validate-batch", {"transactions": [sample_txn()]}),
        ("GET", f"/v1/transactions/{own['merchant_id']}/{own['transaction_id']}", None),
        ("GET", "/v1/transactions", None),
        ("GET", "/v1/transactions?merchant_id=m-42&limit=5", None),
        ("POST", f"/v1/transactions/{own['merchant_id']}/{own['transaction_id']}/resolution",
         {"decision": "approve", "note": "ok"}),
    ]


@pytest.mark.parametrize("auth", [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Token {admin}",
    "Bearer not-a-key",
    "Bearer {admin}x",
    "Bearer x{admin}",
    "Bearer " + "k" * 5000,
    "{admin}",
])
def test_unauthorized_on_every_v1_endpoint(server, seeded, auth):
    for method, path, body in v1_endpoints(seeded):
        headers = {}
        if auth is not None:
            headers["Authorization"] = auth.format(admin=server.keys["admin"])
        r = server.request(method, path, body, headers=headers)
        assert_error(r, 401, "unauthorized")


def test_401_carries_www_authenticate(server):
    # RFC 9110 section 11.6.1 / 15.5.2: a 401 response MUST carry WWW-Authenticate.
    r = server.request("GET", "/v1/transactions")
    assert r.status == 401
    assert (r.header("www-authenticate") or "").lower().startswith("bearer"), r.headers


def test_401_before_body_parsing(server):
    r = server.request("POST", "/v1/transactions/validate", raw=b"{not json")
    assert_error(r, 401, "unauthorized")
    r = server.request("POST", "/v1/transactions/validate", {"foo": 1})
    assert_error(r, 401, "unauthorized")


def test_401_does_not_decide(server):
    body = sample_txn()
    assert server.validate(body, key="not-a-key").status == 401
    assert server.get_txn(body["merchant_id"], body["transaction_id"]).status == 404


def test_error_messages_do_not_echo_the_secret(server):
    bogus = "txv_" + "Q" * 43
    r = server.request("GET", "/v1/transactions", headers={"Authorization": f"Bearer {bogus}"})
    assert r.status == 401
    assert bogus.encode() not in r.body
    assert bogus.encode() not in server.all_logs()


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/startupz", "/metrics"])
def test_health_and_metrics_need_no_auth(server, path):
    assert server.request("GET", path).status == 200
    assert server.request("GET", path, headers={"Authorization": "Bearer garbage"}).status == 200


# ---------------------------------------------------------------- role matrix

EXPECT_VALIDATE = {"admin": 200, "analyst": 403, "validator": 200, "scoped": 200}


@pytest.mark.parametrize("role", ROLES)
def test_validate_by_role(server, role):
    body = sample_txn(merchant_id=SCOPED_MERCHANT)
    r = server.validate(body, key=role)
    if EXPECT_VALIDATE[role] == 403:
        assert_error(r, 403, "forbidden")
        assert server.get_txn(body["merchant_id"], body["transaction_id"]).status == 404
    else:
        assert r.status == 200, r
        assert r.json["decision"] == "approve"


@pytest.mark.parametrize("role", ROLES)
def test_validate_batch_by_role(server, role):
    body = sample_txn(merchant_id=SCOPED_MERCHANT)
    r = server.validate_batch([body], key=role)
    if EXPECT_VALIDATE[role] == 403:
        assert_error(r, 403, "forbidden")
        assert server.get_txn(body["merchant_id"], body["transaction_id"]).status == 404
    else:
        assert r.status == 200, r
        assert r.json["results"][0]["decision"] == "approve"


def test_analyst_forbidden_before_validation(server):
    # Role is checked before the body: an analyst learns nothing about body validity.
    assert_error(server.validate({"foo": 1}, key="analyst"), 403, "forbidden")


@pytest.mark.parametrize("role", ROLES)
def test_get_own_merchant_by_role(server, seeded, role):
    own = seeded["own"]
    r = server.get_txn(own["merchant_id"], own["transaction_id"], key=role)
    assert r.status == 200, r
    assert r.json["transaction_id"] == own["transaction_id"]


@pytest.mark.parametrize("role,status", [("admin", 200), ("analyst", 200), ("validator", 200), ("scoped", 404)])
def test_get_other_merchant_by_role(server, seeded, role, status):
    other = seeded["other"]
    r = server.get_txn(other["merchant_id"], other["transaction_id"], key=role)
    if status == 404:
        err = assert_error(r, 404, "not_found")
        # Indistinguishable from a transaction that does not exist.
        missing = server.get_txn(other["merchant_id"], "does-not-exist", key=role)
        assert_error(missing, 404, "not_found")
        assert missing.json["error"]["message"] == err["message"]
    else:
        assert r.status == 200, r


@pytest.mark.parametrize("role", ROLES)
def test_list_by_role(server, seeded, role):
    r = server.list_txns(key=role, limit=500)
    assert r.status == 200, r
    merchants = {it["merchant_id"] for it in r.json["items"]}
    if role == "scoped":
        assert merchants == {SCOPED_MERCHANT}, merchants
    else:
        assert {SCOPED_MERCHANT, OTHER_MERCHANT} <= merchants, merchants


def test_scoped_list_other_merchant_forbidden(server, seeded):
    assert_error(server.list_txns(key="scoped", merchant_id=OTHER_MERCHANT), 403, "forbidden")
    r = server.list_txns(key="scoped", merchant_id=SCOPED_MERCHANT)
    assert r.status == 200, r
    assert r.json["items"] and all(it["merchant_id"] == SCOPED_MERCHANT for it in r.json["items"])


def test_scoped_list_filters_stay_scoped(server, seeded):
    all_items = server.list_all(key="scoped", limit=2)
    assert all_items and {it["merchant_id"] for it in all_items} == {SCOPED_MERCHANT}
    declines = server.list_txns(key="scoped", decision="approve", limit=500)
    assert declines.status == 200
    assert {it["merchant_id"] for it in declines.json["items"]} <= {SCOPED_MERCHANT}


@pytest.mark.parametrize("role,status,code", [
    ("admin", 409, "not_reviewable"),
    ("analyst", 409, "not_reviewable"),
    ("validator", 403, "forbidden"),
    ("scoped", 403, "forbidden"),
])
def test_resolution_by_role(server, seeded, role, status, code):
    own = seeded["own"]
    r = server.resolve(own["merchant_id"], own["transaction_id"], {"decision": "approve", "note": "x"}, key=role)
    assert_error(r, status, code)


@pytest.mark.parametrize("role", ["validator", "scoped"])
def test_validator_cannot_resolve_even_missing(server, role):
    r = server.resolve("m-x", "nope", {"decision": "approve"}, key=role)
    assert_error(r, 403, "forbidden")


# ---------------------------------------------------------------- merchant scoping on validate


def test_scoped_validator_other_merchant_403_and_not_stored(server):
    body = sample_txn(merchant_id=OTHER_MERCHANT)
    assert_error(server.validate(body, key="scoped"), 403, "forbidden")
    assert server.get_txn(OTHER_MERCHANT, body["transaction_id"]).status == 404


def test_scoped_validator_batch_other_merchant_item_forbidden(server):
    own = sample_txn(merchant_id=SCOPED_MERCHANT)
    other = sample_txn(merchant_id=OTHER_MERCHANT)
    r = server.validate_batch([own, other], key="scoped")
    assert r.status == 200, r
    res = r.json["results"]
    assert res[0]["decision"] == "approve"
    assert res[1]["error"]["code"] == "forbidden"
    assert server.get_txn(OTHER_MERCHANT, other["transaction_id"]).status == 404
    assert server.get_txn(SCOPED_MERCHANT, own["transaction_id"]).status == 200


def test_scoped_validator_replay_of_other_merchant_is_forbidden(server, seeded):
    # Even an exact replay of another merchant's stored request must not be answered.
    other = seeded["other"]
    r = server.validate(other, key="scoped")
    assert_error(r, 403, "forbidden")


def test_legacy_unscoped_validator_any_merchant(server):
    # Keys made before --merchant was required keep working (see txvtest).
    body = sample_txn(merchant_id=unique_id("anym"))
    assert server.validate(body, key="validator").status == 200


# ---------------------------------------------------------------- rate limiting


@pytest.fixture(scope="module")
def limited(txv_bin, tmp_path_factory):
    from txvtest import TxvServer
    srv = TxvServer(tmp_path_factory.mktemp("ratelimited"), extra_args=["--rate-limit", "2"])
    srv.create_key("admin2", "admin")
    srv.create_key("other", "validator", merchant="m-1")
    srv.start()
    yield srv
    srv.stop(expect_exit=0)


def test_rate_limit_burst_then_429(limited):
    results = [limited.get_txn("m-1", f"nope-{i}", key="admin2") for i in range(5)]
    statuses = [r.status for r in results]
    assert statuses[:4] == [404] * 4, statuses
    r = results[4]
    assert_error(r, 429, "rate_limited")
    retry = r.header("retry-after")
    assert retry is not None and retry.strip().isdigit(), r.headers
    assert int(retry) >= 1
    # Another key is unaffected.
    other = limited.get_txn("m-1", "nope", key="other")
    assert other.status == 404, other
    # Unauthenticated requests are 401, never 429.
    assert limited.get_txn("m-1", "nope", key="not-a-key").status == 401
    # Health and metrics are not rate limited.
    for _ in range(6):
        assert limited.request("GET", "/livez").status == 200
    # The budget comes back (poll; refill is 2 tokens a second).
    poll(lambda: limited.get_txn("m-1", "nope", key="admin2").status == 404, 15, interval=0.2,
         what="budget refill")


def test_rate_limited_validate_is_not_decided(limited):
    key = "admin2"
    # Drain the bucket (whatever is left) with cheap requests until a 429 arrives.
    got_429 = False
    for i in range(20):
        if limited.get_txn("m-1", f"drain-{i}", key=key).status == 429:
            got_429 = True
            break
    assert got_429
    body = sample_txn()
    r = limited.validate(body, key=key)
    if r.status == 429:  # still empty (a refill may have slipped in; then it decided legitimately)
        assert_error(r, 429, "rate_limited")
        assert limited.get_txn(body["merchant_id"], body["transaction_id"], key="other").status == 404


def test_rate_limit_counts_per_key_in_parallel(limited):
    import concurrent.futures as cf
    limited.create_key("fresh", "validator", merchant="m-1")

    def one(i):
        return limited.get_txn("m-1", f"par-{i}", key="fresh").status

    with cf.ThreadPoolExecutor(12) as ex:
        statuses = list(ex.map(one, range(12)))
    assert set(statuses) <= {404, 429}, statuses
    assert statuses.count(429) >= 1, statuses
    # Burst is 4; allow a couple of refills during the run but never the whole lot.
    assert statuses.count(404) >= 4, statuses


def test_api_key_secrets_never_logged(server, seeded):
    for label in ("admin", "analyst", "validator", "scoped"):
        server.list_txns(key=label, limit=1)
        server.validate(sample_txn(), key=label)
    logs = server.all_logs()
    stored = b"".join(f.read_bytes() for f in server.db_files())
    for label, secret in server.keys.items():
        assert secret.encode() not in logs, f"{label} key secret in the logs"
        assert secret.encode() not in stored, f"{label} key secret in storage"
