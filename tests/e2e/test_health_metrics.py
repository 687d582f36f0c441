"""Section 7: health endpoints and Prometheus metrics."""

from __future__ import annotations

import re

import pytest

from txvtest import card, make_pan, metric_types, metric_value, parse_metrics, run_cli, sample_txn, unique_id


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/startupz"])
def test_health_200(server, path):
    r = server.request("GET", path)
    assert r.status == 200, r
    assert r.header("content-type").split(";")[0].strip() == "application/json"
    assert isinstance(r.json, dict)


def test_readyz_reports_checks(server):
    doc = server.request("GET", "/readyz").json
    # The 503 body is specified; a 200 body with the same checks is what an operator expects.
    if "checks" in doc:
        assert doc["checks"].get("database") == "ok", doc
        assert doc["checks"].get("cache") == "ok", doc


def test_metrics_content_type(server):
    r = server.request("GET", "/metrics")
    assert r.status == 200
    assert r.header("content-type").startswith("text/plain"), r.headers
    parse_metrics(r.text)  # every line parses


def test_every_contract_metric_is_exposed(server):
    # Produce at least one of each thing that is counted.
    server.validate_ok(sample_txn())
    server.validate_ok(sample_txn(card=card(make_pan("4", valid=False))))
    server.get_txn("m-42", "missing")
    text = server.metrics_text()
    types = metric_types(text)
    assert types.get("txv_decisions_total") == "counter"
    assert types.get("txv_http_requests_total") == "counter"
    assert types.get("txv_http_request_duration_seconds") == "histogram"
    assert types.get("txv_db_pool_connections") == "gauge"
    assert types.get("txv_cache_errors_total") == "counter"
    assert types.get("txv_build_info") == "gauge"

    samples = parse_metrics(text)
    decisions = {s.labels.get("decision") for s in samples if s.name == "txv_decisions_total"}
    assert {"approve", "decline"} <= decisions
    assert decisions <= {"approve", "decline", "review"}
    assert metric_value(text, "txv_decisions_total", {"decision": "approve"}) >= 1
    assert metric_value(text, "txv_decisions_total", {"decision": "decline"}) >= 1

    http = [s for s in samples if s.name == "txv_http_requests_total"]
    assert http and all({"route", "method", "status"} <= set(s.labels) for s in http)

    buckets = [s for s in samples if s.name == "txv_http_request_duration_seconds_bucket"]
    assert buckets and all("route" in s.labels and "le" in s.labels for s in buckets)
    assert any(s.labels["le"] == "+Inf" for s in buckets)
    assert any(s.name == "txv_http_request_duration_seconds_sum" for s in samples)
    assert any(s.name == "txv_http_request_duration_seconds_count" for s in samples)

    pool = {s.labels.get("state") for s in samples if s.name == "txv_db_pool_connections"}
    assert pool, "txv_db_pool_connections has no samples"
    assert all(s.value >= 0 for s in samples if s.name == "txv_db_pool_connections")

    assert any(s.name == "txv_cache_errors_total" for s in samples)
    assert metric_value(text, "txv_cache_errors_total") == 0

    info = [s for s in samples if s.name == "txv_build_info"]
    assert len(info) == 1 and info[0].labels.get("version") and info[0].value == 1


def test_build_info_version_matches_cli(server):
    cp = run_cli(["version"])
    assert cp.returncode == 0
    info = [s for s in parse_metrics(server.metrics_text()) if s.name == "txv_build_info"][0]
    assert info.labels["version"] in cp.stdout


def test_route_labels_are_templates(server):
    tid = "uniq" + unique_id().replace("-", "")
    mid = "merch" + unique_id().replace("-", "")
    server.get_txn(mid, tid)
    server.resolve(mid, tid, {"decision": "approve"})
    server.request("GET", f"/v1/no-such-{tid}", key="admin")
    server.list_txns(merchant_id=mid)
    text = server.metrics_text()
    assert tid not in text and mid not in text, "raw path or query in metric labels"
    routes = {s.labels.get("route") for s in parse_metrics(text)
              if s.name in ("txv_http_requests_total", "txv_http_request_duration_seconds_bucket")}
    assert "/v1/transactions/{merchant_id}/{transaction_id}" in routes, routes
    assert "/v1/transactions/{merchant_id}/{transaction_id}/resolution" in routes, routes
    assert "/v1/transactions" in routes, routes
    for r in routes:
        assert "?" not in r, r


def test_http_requests_counter_counts(server):
    route = "/v1/transactions/{merchant_id}/{transaction_id}"
    labels = {"route": route, "method": "GET", "status": "404"}
    before = server.metric("txv_http_requests_total", labels)
    for i in range(3):
        assert server.get_txn("m-42", f"nope-{i}").status == 404
    assert server.metric("txv_http_requests_total", labels) - before == 3
    # The duration histogram for that route moved too.
    text = server.metrics_text()
    assert metric_value(text, "txv_http_request_duration_seconds_count", {"route": route}) >= 3


def test_decisions_counter_counts_new_decisions_only(server):
    before_a = server.metric("txv_decisions_total", {"decision": "approve"})
    before_d = server.metric("txv_decisions_total", {"decision": "decline"})
    a = sample_txn()
    d = sample_txn(card=card(make_pan("4"), 1, 2020))
    server.validate_ok(a)
    server.validate_ok(d)
    server.validate_ok(a)  # replay
    server.validate(dict(a, amount=1))  # conflict
    server.validate(sample_txn(amount=-1))  # 422
    assert server.metric("txv_decisions_total", {"decision": "approve"}) - before_a == 1
    assert server.metric("txv_decisions_total", {"decision": "decline"}) - before_d == 1


def test_metrics_status_labels_for_errors(server):
    server.request("POST", "/v1/transactions/validate", raw=b"{", key="admin")
    text = server.metrics_text()
    assert metric_value(text, "txv_http_requests_total",
                        {"route": "/v1/transactions/validate", "method": "POST", "status": "400"}) >= 1


def test_rule_matches_metric_is_declared(server):
    # No rules exist yet, so the family may have no samples; it must still be declared
    # (# HELP / # TYPE) so dashboards and alerts can reference it from the first scrape.
    text = server.metrics_text()
    assert "# HELP txv_rule_matches_total" in text, "txv_rule_matches_total is not exposed"
    assert metric_types(text).get("txv_rule_matches_total") == "counter"
    for s in parse_metrics(text):
        if s.name == "txv_rule_matches_total":
            assert {"rule_id", "mode"} <= set(s.labels), s
