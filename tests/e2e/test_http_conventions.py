"""Section 2 conventions: error shape, status codes, content types, limits, request ids."""

from __future__ import annotations

import json
import re

import pytest

from txvtest import (DROP, assert_error, card, detail_fields, parse_raw_response, raw_exchange, sample_txn,
                     unique_id)

VALIDATE = "/v1/transactions/validate"
BATCH = "/v1/transactions/validate-batch"


# ---------------------------------------------------------------- 2xx basics


def test_success_is_json(server):
    r = server.validate(sample_txn())
    assert r.status == 200, r
    assert r.header("content-type").split(";")[0].strip() == "application/json"
    assert isinstance(r.json, dict)


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8", "Application/JSON"])
def test_json_content_type_variants_accepted(server, ctype):
    r = server.validate(sample_txn(), headers={"Content-Type": ctype})
    assert r.status == 200, r


# ---------------------------------------------------------------- 400


@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"transaction_id": "a",}', b"\xff\xfe", b"[1, 2",
                                 b'{"a": 1} trailing'])
def test_malformed_json_400(server, raw):
    r = server.request("POST", VALIDATE, raw=raw, key="admin")
    assert_error(r, 400, "malformed_json")


def test_malformed_json_on_batch_and_resolution(server):
    assert_error(server.request("POST", BATCH, raw=b'{"transactions": [', key="admin"), 400, "malformed_json")
    assert_error(server.request("POST", "/v1/transactions/m-1/t-1/resolution", raw=b"{nope", key="analyst"), 400,
                 "malformed_json")


def test_empty_body_on_validate_is_400(server):
    r = server.request("POST", VALIDATE, raw=b"", key="admin")
    assert_error(r, 400, "malformed_json")


def test_unparseable_http_is_malformed_request(server):
    data = raw_exchange(server.port, b"THIS IS NOT HTTP\r\n\r\n")
    r = parse_raw_response(data)
    assert_error(r, 400, "malformed_request")
    assert r.header("x-request-id")


def test_bad_header_line_is_malformed_request(server):
    data = raw_exchange(server.port, b"GET /livez HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
    r = parse_raw_response(data)
    assert_error(r, 400, "malformed_request")


def test_server_survives_garbage(server):
    raw_exchange(server.port, b"\x00\x01\x02garbage\r\n\r\n")
    assert server.request("GET", "/livez").status == 200


# ---------------------------------------------------------------- 404 / 405


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/nope"),
    ("GET", "/nope"),
    ("GET", "/v1/transactions/a/b/c/d"),
    ("POST", "/v1/transactions/a/b/c/d/e"),
    ("GET", "/v1/transactions/a/b/resolution/x"),
    ("GET", "/v2/transactions"),
])
def test_unknown_route_404(server, method, path):
    r = server.request(method, path, key="admin", body={} if method == "POST" else None)
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize("method,path", [
    ("GET", VALIDATE),
    ("PUT", VALIDATE),
    ("GET", BATCH),
    ("DELETE", "/v1/transactions"),
    ("POST", "/v1/transactions"),
    ("PUT", "/v1/transactions/m-1/t-1"),
    ("DELETE", "/v1/transactions/m-1/t-1"),
    ("GET", "/v1/transactions/m-1/t-1/resolution"),
    ("POST", "/livez"),
    ("DELETE", "/metrics"),
])
def test_wrong_method_405(server, method, path):
    r = server.request(method, path, key="admin")
    assert_error(r, 405, "method_not_allowed")


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", VALIDATE, {"POST"}),
    ("DELETE", "/v1/transactions", {"GET"}),
    ("POST", "/livez", {"GET"}),
])
def test_405_has_allow_header(server, method, path, allowed):
    # RFC 9110 section 15.5.6: a 405 response MUST carry Allow.
    r = server.request(method, path, key="admin")
    assert r.status == 405, r
    allow = r.header("allow")
    assert allow is not None, f"405 without Allow header: {r.headers}"
    got = {m.strip().upper() for m in allow.split(",") if m.strip()}
    assert allowed <= got, f"Allow: {allow!r}"
    assert "DELETE" not in got or "DELETE" in allowed


def test_404_takes_precedence_over_auth(server):
    # Unknown paths never reveal whether auth would pass; still the same error shape.
    r = server.request("GET", "/v1/definitely-not-a-route")
    assert_error(r, 404, "not_found")


# ---------------------------------------------------------------- 415


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                                   "multipart/form-data; boundary=x", "application/xml"])
def test_other_content_type_415(server, ctype):
    r = server.request("POST", VALIDATE, raw=json.dumps(sample_txn()).encode(), key="admin",
                       headers={"Content-Type": ctype})
    assert_error(r, 415, "unsupported_media_type")


def test_missing_content_type_with_body_415(server):
    r = server.request("POST", VALIDATE, raw=json.dumps(sample_txn()).encode(), key="admin",
                       headers={"Content-Type": None})
    assert_error(r, 415, "unsupported_media_type")


def test_415_on_batch_and_resolution(server):
    assert_error(server.request("POST", BATCH, raw=b'{"transactions": []}', key="admin",
                                headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    assert_error(server.request("POST", "/v1/transactions/m/t/resolution", raw=b'{"decision": "approve"}',
                                key="analyst", headers={"Content-Type": "text/plain"}), 415,
                 "unsupported_media_type")


def test_415_does_not_store(server):
    body = sample_txn()
    r = server.request("POST", VALIDATE, raw=json.dumps(body).encode(), key="admin",
                       headers={"Content-Type": "text/plain"})
    assert r.status == 415
    assert server.get_txn(body["merchant_id"], body["transaction_id"]).status == 404


# ---------------------------------------------------------------- 413


def padded_body(size: int) -> bytes:
    """A valid transaction JSON document of exactly ``size`` bytes (whitespace padding)."""
    base = json.dumps(sample_txn()).encode()
    assert len(base) < size
    return base[:-1] + b" " * (size - len(base)) + b"}"


def test_body_of_exactly_64_kib_is_accepted(server):
    raw = padded_body(64 * 1024)
    assert len(raw) == 65536
    r = server.request("POST", VALIDATE, raw=raw, key="admin")
    assert r.status == 200, r


@pytest.mark.parametrize("size", [64 * 1024 + 1, 65 * 1024 + 1, 1024 * 1024])
def test_body_over_64_kib_413(server, size):
    raw = padded_body(size)
    r = server.post_oversized(VALIDATE, raw)
    assert_error(r, 413, "payload_too_large")
    assert r.header("x-request-id")
    # The server is still healthy afterwards.
    assert server.request("GET", "/livez", fresh=True).status == 200


def test_chunked_body_over_64_kib_413(server):
    import http.client
    raw = padded_body(70 * 1024)
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        c.putrequest("POST", VALIDATE)
        c.putheader("Content-Type", "application/json")
        c.putheader("Authorization", f"Bearer {server.keys['admin']}")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        try:
            for i in range(0, len(raw), 8192):
                chunk = raw[i:i + 8192]
                c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            c.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the rest is sent
        resp = c.getresponse()
        from txvtest import Resp
        r = Resp(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        c.close()
    assert_error(r, 413, "payload_too_large")


def test_batch_over_1_mib_413(server):
    # validate-batch takes up to 1 MiB (contract section 2): 500 ordinary items are ~95 KB.
    items = [sample_txn(metadata={"pad": "x" * 450}) for _ in range(2000)]
    raw = json.dumps({"transactions": items}).encode()
    assert len(raw) > 1024 * 1024
    r = server.post_oversized(BATCH, raw)
    assert_error(r, 413, "payload_too_large")


# ---------------------------------------------------------------- 422: unknown fields


@pytest.mark.parametrize("mutate,field", [
    (lambda b: b.update(foo=1), "foo"),
    (lambda b: b.update(Amount=5), "Amount"),
    (lambda b: b["card"].update(cvv="123"), "card.cvv"),
    (lambda b: b["customer"].update(name="Alice"), "customer.name"),
    (lambda b: b["merchant"].update(city="Paris"), "merchant.city"),
])
def test_unknown_field_each_level(server, mutate, field):
    body = sample_txn()
    mutate(body)
    err = assert_error(server.validate(body), 422, "validation_failed", [(field, "unknown_field")])
    assert len(err["details"]) == 1, err
    assert server.get_txn(body["merchant_id"], body["transaction_id"]).status == 404


def test_unknown_field_in_token_card(server):
    body = sample_txn(card={"token": "tok_1", "foo": "x"})
    assert_error(server.validate(body), 422, "validation_failed", [("card.foo", "unknown_field")])


def test_metadata_allows_any_key(server):
    body = sample_txn(metadata={"anything": "goes", "foo": "bar", "card.number": "x"})
    r = server.validate(body)
    assert r.status == 200, r


def test_unknown_field_in_batch_item_has_indexed_path(server):
    good = sample_txn()
    bad = sample_txn(foo=1)
    bad["card"]["cvv"] = "1"
    r = server.validate_batch([good, bad])
    assert r.status == 200, r
    res = r.json["results"]
    assert res[0]["decision"] == "approve"
    inner = res[1]["error"]
    assert inner["code"] == "validation_failed"
    got = {(d["field"], d["issue"]) for d in inner["details"]}
    assert ("transactions[1].foo", "unknown_field") in got, got
    assert ("transactions[1].card.cvv", "unknown_field") in got, got


def test_unknown_top_level_field_in_batch_envelope(server):
    r = server.request("POST", BATCH, {"transactions": [sample_txn()], "dry_run": True}, key="admin")
    assert_error(r, 422, "validation_failed", [("dry_run", "unknown_field")])


def test_unknown_field_in_resolution(server):
    r = server.resolve("m-1", "t-1", {"decision": "approve", "note": "x", "reviewer": "bob"})
    assert_error(r, 422, "validation_failed", [("reviewer", "unknown_field")])


# ---------------------------------------------------------------- 422: every violation at once


def test_all_violations_reported_at_once(server):
    body = {
        "transaction_id": "has space",
        "merchant_id": "x" * 65,
        "type": "gift",
        "amount": -5,
        "currency": "ZZZ",
        "card": {"number": "4242-4242-4242-4242", "expiry_month": 13, "expiry_year": 30},
        "customer": {"email": "a@b@c", "ip": "999.1.1.1", "country": "ZZ"},
        "merchant": {"mcc": "54a1", "country": "XX"},
        "occurred_at": "yesterday",
        "metadata": {f"k{i}": "v" for i in range(21)},
        "extra": True,
    }
    want = {
        ("transaction_id", "invalid_format"),
        ("merchant_id", "too_long"),
        ("type", "invalid_value"),
        ("amount", "out_of_range"),
        ("currency", "unknown_currency"),
        ("card.number", "invalid_format"),
        ("card.expiry_month", "out_of_range"),
        ("card.expiry_year", "out_of_range"),
        ("customer.email", "invalid_format"),
        ("customer.ip", "invalid_format"),
        ("customer.country", "unknown_country"),
        ("merchant.mcc", "invalid_format"),
        ("merchant.country", "unknown_country"),
        ("occurred_at", "invalid_format"),
        ("metadata", "too_many"),
        ("extra", "unknown_field"),
    }
    err = assert_error(server.validate(body), 422, "validation_failed", want, exact_details=True)
    assert len(err["details"]) == len(want), err


def test_required_fields_all_reported(server):
    err = assert_error(server.validate({}), 422, "validation_failed")
    got = {(d["field"], d["issue"]) for d in err["details"]}
    for f in ("transaction_id", "merchant_id", "amount", "currency", "card"):
        assert (f, "required") in got, got


@pytest.mark.parametrize("field,value,issue", [
    ("amount", "100", "invalid_type"),
    ("amount", 12.5, "invalid_type"),
    ("amount", True, "invalid_type"),
    ("amount", 0, "out_of_range"),
    ("amount", 10 ** 15 + 1, "out_of_range"),
    ("amount", 10 ** 20, "out_of_range"),
    ("transaction_id", 123, "invalid_type"),
    ("transaction_id", "x" * 65, "too_long"),
    ("transaction_id", "a/b", "invalid_format"),
    ("transaction_id", "é", "invalid_format"),
    ("transaction_id", "a\x00b", "invalid_format"),
    ("merchant_id", "", None),
    ("currency", "US", "unknown_currency"),
    ("currency", "ZZZ", "unknown_currency"),
    ("currency", 840, "invalid_type"),
    ("type", "sale", "invalid_value"),
    ("occurred_at", "2026-11-24 10:00:00", "invalid_format"),
    ("occurred_at", "2026-02-30T10:00:00Z", "invalid_format"),
    ("card", "4242424242424242", "invalid_type"),
    ("customer", [], "invalid_type"),
    ("metadata", {"k": 1}, "invalid_type"),
    ("metadata", {"k": "v" * 501}, "too_long"),
])
def test_single_violation(server, field, value, issue):
    body = sample_txn(**{field: value})
    err = assert_error(server.validate(body), 422, "validation_failed")
    got = {(d["field"], d["issue"]) for d in err["details"]}
    want_field = field
    if field == "metadata" and isinstance(value, dict):
        want_field = "metadata.k"
    if issue is None:
        assert want_field in {f for f, _ in got}, got
    else:
        assert (want_field, issue) in got, got


@pytest.mark.parametrize("c,field,issue", [
    ({"number": "42424242424", "expiry_month": 1, "expiry_year": 2030}, "card.number", None),  # 11 digits
    ({"number": "42424242424242424242", "expiry_month": 1, "expiry_year": 2030}, "card.number", "too_long"),
    ({"number": 4242424242424242, "expiry_month": 1, "expiry_year": 2030}, "card.number", "invalid_type"),
    ({"number": "4242424242424242", "expiry_year": 2030}, "card.expiry_month", "required"),
    ({"number": "4242424242424242", "expiry_month": 1}, "card.expiry_year", "required"),
    ({"number": "4242424242424242", "expiry_month": 0, "expiry_year": 2030}, "card.expiry_month", "out_of_range"),
    ({"number": "4242424242424242", "expiry_month": "12", "expiry_year": 2030}, "card.expiry_month",
     "invalid_type"),
    ({"number": "４２４２４２４２４２４２４２４２", "expiry_month": 1, "expiry_year": 2030}, "card.number",
     "invalid_format"),
    ({"token": "t" * 129}, "card.token", "too_long"),
    ({}, "card", None),
])
def test_card_violations(server, c, field, issue):
    err = assert_error(server.validate(sample_txn(card=c)), 422, "validation_failed")
    if issue is None:
        assert any(d["field"] == field for d in err["details"]), err
    else:
        assert (field, issue) in {(d["field"], d["issue"]) for d in err["details"]}, err


def test_number_and_token_together_rejected(server):
    c = {"number": "4242424242424242", "expiry_month": 1, "expiry_year": 2030, "token": "tok_x"}
    err = assert_error(server.validate(sample_txn(card=c)), 422, "validation_failed")
    assert any(f.startswith("card") for f in detail_fields(err)), err


def test_body_must_be_object(server):
    for raw in (b"[]", b'"x"', b"42", b"null"):
        r = server.request("POST", VALIDATE, raw=raw, key="admin")
        assert_error(r, 422, "validation_failed")


def test_limits_accepted_at_the_edge(server):
    body = sample_txn(transaction_id=("A.b_c:d-" * 8)[:63] + "Z", merchant_id="M" * 64, amount=10 ** 15,
                      metadata={("k" * 40): ("v" * 500), **{f"x{i}": "y" for i in range(19)}},
                      customer={"email": ("e" * 240) + "@example.com"})
    assert len(body["transaction_id"]) == 64
    r = server.validate(body)
    assert r.status == 200, r


def test_verification_allows_zero_amount(server):
    assert server.validate(sample_txn(type="verification", amount=0)).status == 200
    err = assert_error(server.validate(sample_txn(type="refund", amount=0)), 422, "validation_failed")
    assert ("amount", "out_of_range") in {(d["field"], d["issue"]) for d in err["details"]}


def test_type_defaults_to_purchase(server):
    body = sample_txn(type=DROP)
    server.validate_ok(body)
    r = server.get_txn(body["merchant_id"], body["transaction_id"])
    assert r.status == 200 and r.json["type"] == "purchase", r


def test_nulls_for_optional_fields(server):
    # null for an optional member is treated like absence (not a type error).
    body = sample_txn(customer=None, merchant=None, metadata=None, occurred_at=None)
    r = server.validate(body)
    assert r.status in (200, 422), r
    if r.status == 422:
        for d in r.json["error"]["details"]:
            assert d["field"] in ("customer", "merchant", "metadata", "occurred_at"), d


# ---------------------------------------------------------------- X-Request-Id


def test_request_id_echoed(server):
    rid = "req-" + unique_id()
    r = server.request("GET", "/livez", headers={"X-Request-Id": rid})
    assert r.header("x-request-id") == rid


def test_request_id_echoed_on_errors(server):
    rid = "err-" + unique_id()
    r = server.request("GET", "/v1/transactions", headers={"X-Request-Id": rid})
    assert r.status == 401
    assert r.header("x-request-id") == rid
    r = server.request("GET", "/v1/nope", headers={"X-Request-Id": rid + "b"}, key="admin")
    assert r.status == 404
    assert r.header("x-request-id") == rid + "b"
    r = server.validate({}, headers={"X-Request-Id": rid + "c"})
    assert r.status == 422
    assert r.header("x-request-id") == rid + "c"


def test_request_id_generated_when_absent(server):
    a = server.request("GET", "/livez").header("x-request-id")
    b = server.request("GET", "/livez").header("x-request-id")
    assert a and b and a != b
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", a), a


@pytest.mark.parametrize("bad", ["has space", "x" * 300, "semi;colon", "quote\"d", "<script>"])
def test_insane_request_id_replaced(server, bad):
    r = server.request("GET", "/livez", headers={"X-Request-Id": bad})
    got = r.header("x-request-id")
    assert got and got != bad
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", got), got


def test_request_id_in_logs(server):
    rid = "logme-" + unique_id()
    server.request("GET", "/livez", headers={"X-Request-Id": rid})
    from txvtest import poll
    poll(lambda: rid.encode() in server.stderr_path.read_bytes(), 10, what="request id in the log")
    for line in server.stderr_path.read_bytes().splitlines():
        if rid.encode() in line:
            json.loads(line)  # every log line is JSON


def test_keep_alive_reuses_connection(server):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        c.request("GET", "/livez")
        r1 = c.getresponse()
        r1.read()
        sock = c.sock
        c.request("GET", "/livez")
        r2 = c.getresponse()
        r2.read()
        assert r1.status == r2.status == 200
        assert c.sock is sock, "server closed a keep-alive connection"
    finally:
        c.close()


def test_chunked_request_body_accepted(server):
    import http.client
    body = sample_txn()
    raw = json.dumps(body).encode()
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        c.request("POST", VALIDATE, body=iter([raw[:50], raw[50:]]), encode_chunked=True,
                  headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.keys['admin']}",
                           "Transfer-Encoding": "chunked"})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    assert r.status == 200, data
    assert json.loads(data)["transaction_id"] == body["transaction_id"]


def test_pipelined_requests_answered_in_order(server):
    reqs = b"".join(
        f"GET /livez HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-{i}\r\n\r\n".encode() for i in range(3))
    reqs += b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-last\r\nConnection: close\r\n\r\n"
    data = raw_exchange(server.port, reqs)
    ids = re.findall(rb"(?i)x-request-id: *([^\r]+)", data)
    assert ids == [b"pipe-0", b"pipe-1", b"pipe-2", b"pipe-last"], data[:600]
    assert data.count(b"HTTP/1.1 200") == 4


def test_connection_stays_open_after_errors(server):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    auth = {"Authorization": f"Bearer {server.keys['admin']}"}
    try:
        c.connect()
        sock = c.sock
        cases = [
            ("GET", "/v1/transactions", None, {}, 401),
            ("GET", "/v1/nope", None, auth, 404),
            ("PUT", VALIDATE, None, auth, 405),
            ("POST", VALIDATE, b"{}", dict(auth, **{"Content-Type": "text/plain"}), 415),
            ("POST", VALIDATE, b"{", dict(auth, **{"Content-Type": "application/json"}), 400),
            ("POST", VALIDATE, b"{}", dict(auth, **{"Content-Type": "application/json"}), 422),
            ("GET", "/v1/transactions/m/none", None, auth, 404),
            ("GET", "/livez", None, {}, 200),
        ]
        for method, path, body, headers, status in cases:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            r.read()
            assert r.status == status, (method, path, r.status)
            assert c.sock is sock, f"server closed the connection after a {status}"
    finally:
        c.close()


@pytest.mark.parametrize("depth", [64, 5000])
def test_deeply_nested_json_is_rejected_cleanly(server, depth):
    body = sample_txn()
    raw = json.dumps(body)[:-1] + ', "metadata2": ' + "[" * depth + "]" * depth + "}"
    r = server.request("POST", VALIDATE, raw=raw.encode(), key="admin")
    assert r.status in (400, 422), r
    assert_error(r, r.status, "malformed_json" if r.status == 400 else "validation_failed")
    assert server.request("GET", "/livez").status == 200


def test_413_reaches_a_client_that_writes_the_whole_body_before_reading(server):
    """http.client sends all of a 3 MiB body (more than loopback socket buffers absorb) before it
    reads; the server discards the unread rest before closing, so the client gets the 413 instead
    of a reset connection."""
    raw = b'{"pad":"' + b"x" * (3 * 1024 * 1024) + b'"}'
    r = server.request("POST", "/v1/transactions/validate", raw=raw, key="admin", fresh=True)
    assert r.status == 413, r
    assert r.json["error"]["code"] == "payload_too_large", r.json
