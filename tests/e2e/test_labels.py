"""Section 9 (labels: ground truth) through the real binary: one label, the batch, the
history (latest by `at`), GET and the `label` list filter, the audit entries, roles and
scope, validation, `txv labels import` of a CSV file, and card numbers never echoed."""

from __future__ import annotations

import json

import pytest

from txvtest import (RFC3339_Z, OTHER_MERCHANT, assert_error, detail_fields, make_pan, run_cli, sample_txn,
                     unique_id, unique_merchant)


@pytest.fixture(scope="module")
def labelled(server):
    """The module's server with an analyst key scoped to OTHER_MERCHANT."""
    if "analyst-other" not in server.keys:
        server.create_key("analyst-other", "analyst", merchant=OTHER_MERCHANT)
    return server


def decided(srv, merchant: str, n: int = 1) -> list[str]:
    """n stored decisions of `merchant`, oldest first; their transaction ids."""
    ids = []
    for _ in range(n):
        txn = sample_txn(merchant_id=merchant)
        srv.validate_ok(txn)
        ids.append(txn["transaction_id"])
    return ids


def current_label(srv, merchant: str, txid: str):
    r = srv.get_txn(merchant, txid)
    assert r.status == 200, r
    return r.json.get("label")


# ============================================================== one label


def test_label_is_stored_with_by_and_audited(labelled):
    srv = labelled
    m = unique_merchant("lab")
    (t,) = decided(srv, m)
    assert current_label(srv, m, t) is None  # no label member before the first one

    r = srv.label(m, t, {"label": "fraud", "source": "chargeback", "reason": "Chargeback 4837, \"no auth\"",
                         "at": "2026-11-26T10:30:00+01:00"})
    assert r.status == 201, r
    body = r.json
    assert body == {"merchant_id": m, "transaction_id": t, "label": "fraud", "source": "chargeback",
                    "reason": "Chargeback 4837, \"no auth\"", "at": "2026-11-26T09:30:00.000Z",
                    "by": srv.key_names["analyst"]}

    got = current_label(srv, m, t)
    assert got == {"label": "fraud", "source": "chargeback", "reason": "Chargeback 4837, \"no auth\"",
                   "at": "2026-11-26T09:30:00.000Z", "by": srv.key_names["analyst"]}

    audit = srv.audit(object_type="transaction", object_id=f"{m}/{t}")
    assert audit.status == 200, audit
    entries = audit.json["items"]
    assert len(entries) == 1, entries
    e = entries[0]
    assert (e["action"], e["object_type"], e["object_id"], e["actor"]) == (
        "label", "transaction", f"{m}/{t}", srv.key_names["analyst"])
    assert RFC3339_Z.match(e["at"])
    assert e["before"] == {"label": None}
    assert e["after"] == {"label": got, "added": got}

    # Default `at`: the server time; admin may label too; no reason: no member.
    r = srv.label(m, t, {"label": "not_fraud", "source": "manual"}, key="admin")
    assert r.status == 201, r
    assert RFC3339_Z.match(r.json["at"]) and "reason" not in r.json
    assert r.json["by"] == srv.key_names["admin"]
    assert current_label(srv, m, t)["label"] == "not_fraud"  # now is later than 2026-11-26


def test_unknown_transaction_and_other_merchant_are_404(labelled):
    srv = labelled
    m = unique_merchant("lab")
    (t,) = decided(srv, m)
    body = {"label": "fraud", "source": "manual"}
    assert_error(srv.label(m, "no-such-" + unique_id(), body), 404, "not_found")
    assert_error(srv.label(unique_merchant("nobody"), t, body), 404, "not_found")
    # An analyst key scoped to another merchant: the transaction is absent to it.
    assert_error(srv.label(m, t, body, key="analyst-other"), 404, "not_found")
    assert current_label(srv, m, t) is None
    assert srv.audit(object_type="transaction", object_id=f"{m}/{t}").json["items"] == []


def test_validator_keys_may_not_label(labelled):
    srv = labelled
    m = unique_merchant("lab")
    (t,) = decided(srv, m)
    for key in ("validator", "scoped"):
        assert_error(srv.label(m, t, {"label": "fraud", "source": "manual"}, key=key), 403, "forbidden")
        assert_error(srv.label_batch([{"merchant_id": m, "transaction_id": t, "label": "fraud",
                                       "source": "manual"}], key=key), 403, "forbidden")
    assert_error(srv.label(m, t, {"label": "fraud", "source": "manual"}, key=None), 401, "unauthorized")
    assert current_label(srv, m, t) is None


@pytest.mark.parametrize("body,expected", [
    ({"source": "manual"}, ("label", "required")),
    ({"label": "maybe", "source": "manual"}, ("label", "invalid_value")),
    ({"label": 1, "source": "manual"}, ("label", "invalid_type")),
    ({"label": "fraud"}, ("source", "required")),
    ({"label": "fraud", "source": "phone"}, ("source", "invalid_value")),
    ({"label": "fraud", "source": "manual", "reason": "x" * 501}, ("reason", "too_long")),
    ({"label": "fraud", "source": "manual", "reason": ""}, ("reason", "too_short")),
    ({"label": "fraud", "source": "manual", "reason": 5}, ("reason", "invalid_type")),
    ({"label": "fraud", "source": "manual", "at": "yesterday"}, ("at", "invalid_format")),
    ({"label": "fraud", "source": "manual", "at": "2999-01-01T00:00:00Z"}, ("at", "out_of_range")),
    ({"label": "fraud", "source": "manual", "colour": "red"}, ("colour", "unknown_field")),
    ({"label": "fraud", "source": "manual", "merchant_id": "m"}, ("merchant_id", "unknown_field")),
])
def test_validation_errors_name_the_field(labelled, body, expected):
    srv = labelled
    m = unique_merchant("lab")
    (t,) = decided(srv, m)
    err = assert_error(srv.label(m, t, body), 422, "validation_failed", details=[expected])
    assert detail_fields(err) == {expected[0]}
    assert current_label(srv, m, t) is None


def test_reason_of_500_characters_and_malformed_bodies(labelled):
    srv = labelled
    m = unique_merchant("lab")
    (t,) = decided(srv, m)
    reason = "é" * 500  # characters, not bytes
    r = srv.label(m, t, {"label": "fraud", "source": "issuer_alert", "reason": reason})
    assert r.status == 201, r
    assert current_label(srv, m, t)["reason"] == reason
    assert_error(srv.label(m, t, None, raw=b'{"label": "fraud",'), 400, "malformed_json")
    assert_error(srv.label(m, t, None, raw=b'{"label":"fraud","label":"not_fraud","source":"manual"}'), 400,
                 "malformed_json")
    assert_error(srv.label(m, t, None, raw=b'[]'), 422, "validation_failed", details=[("body", "invalid_type")])


# ============================================================== history


def test_history_the_latest_by_at_wins_even_when_posted_earlier(labelled):
    srv = labelled
    m = unique_merchant("lab")
    (t,) = decided(srv, m)
    assert srv.label(m, t, {"label": "fraud", "source": "chargeback", "at": "2026-11-25T12:00:00Z"}).status == 201
    # An older label posted later is history only.
    assert srv.label(m, t, {"label": "not_fraud", "source": "customer_report",
                            "at": "2026-11-25T08:00:00Z"}).status == 201
    got = current_label(srv, m, t)
    assert (got["label"], got["source"], got["at"]) == ("fraud", "chargeback", "2026-11-25T12:00:00.000Z")
    # A newer one wins; the same `at` goes to the one stored last.
    assert srv.label(m, t, {"label": "not_fraud", "source": "manual", "at": "2026-11-25T13:00:00Z"}).status == 201
    assert current_label(srv, m, t)["label"] == "not_fraud"
    assert srv.label(m, t, {"label": "fraud", "source": "issuer_alert", "at": "2026-11-25T13:00:00Z"}).status == 201
    got = current_label(srv, m, t)
    assert (got["label"], got["source"]) == ("fraud", "issuer_alert")

    # Every label is in the audit log, the older one with the label it did not replace.
    entries = srv.audit(object_type="transaction", object_id=f"{m}/{t}").json["items"]
    assert [e["action"] for e in entries] == ["label"] * 4
    older = entries[2]  # newest first
    assert older["after"]["added"]["label"] == "not_fraud"
    assert older["after"]["label"]["label"] == "fraud" and older["before"] == {"label": older["after"]["label"]}
    assert srv.list_all(merchant_id=m, label="fraud") and not srv.list_all(merchant_id=m, label="not_fraud")


# ============================================================== list filter


def test_list_filters_on_the_current_label_with_paging(labelled):
    srv = labelled
    m = unique_merchant("lab")
    ids = decided(srv, m, 6)  # oldest first
    for t in (ids[0], ids[2], ids[4]):
        assert srv.label(m, t, {"label": "fraud", "source": "chargeback"}).status == 201
    assert srv.label(m, ids[1], {"label": "fraud", "source": "manual", "at": "2026-01-01T00:00:00Z"}).status == 201
    assert srv.label(m, ids[1], {"label": "not_fraud", "source": "manual"}).status == 201  # now current

    def listed(label):
        items = srv.list_all(merchant_id=m, label=label, limit=1)  # a page per item: the cursor path
        return [i["transaction_id"] for i in items], items

    fraud, items = listed("fraud")
    assert fraud == [ids[4], ids[2], ids[0]]  # newest first
    assert all(i["label"]["label"] == "fraud" for i in items)
    not_fraud, items = listed("not_fraud")
    assert not_fraud == [ids[1]] and items[0]["label"]["source"] == "manual"
    none, items = listed("none")
    assert none == [ids[5], ids[3]] and all("label" not in i for i in items)
    # Combined with another filter, and without the filter every item carries its label.
    assert [i["transaction_id"] for i in srv.list_all(merchant_id=m, label="fraud", decision="approve")] == fraud
    everything = srv.list_all(merchant_id=m)
    assert [("label" in i) for i in everything] == [False, True, False, True, True, True]
    assert_error(srv.list_txns(label="maybe"), 422, "validation_failed", details=[("label", "invalid_value")])


# ============================================================== batch


def test_batch_bad_items_fail_alone_good_ones_are_written(labelled):
    srv = labelled
    m = unique_merchant("lab")
    t1, t2 = decided(srv, m, 2)
    other = unique_merchant("other")
    (t3,) = decided(srv, other)
    items = [
        {"merchant_id": m, "transaction_id": t1, "label": "fraud", "source": "chargeback", "reason": "cb"},
        {"merchant_id": m, "transaction_id": "no-such-" + unique_id(), "label": "fraud", "source": "manual"},
        {"merchant_id": m, "transaction_id": t2, "label": "maybe", "source": "manual"},
        {"merchant_id": m, "transaction_id": t2, "label": "not_fraud", "source": "issuer_alert",
         "at": "2026-11-20T00:00:00Z"},
        {"transaction_id": t2, "label": "fraud", "source": "manual", "extra": 1},
        "not an object",
        {"merchant_id": other, "transaction_id": t3, "label": "fraud", "source": "manual"},
    ]
    r = srv.label_batch(items)
    assert r.status == 200, r
    results = r.json["results"]
    assert len(results) == len(items)
    assert results[0] == {"ok": True} and results[3] == {"ok": True} and results[6] == {"ok": True}
    assert results[1]["error"]["code"] == "not_found"
    assert results[2]["error"]["code"] == "validation_failed"
    assert detail_fields(results[2]["error"]) == {"labels[2].label"}
    assert {(d["field"], d["issue"]) for d in results[4]["error"]["details"]} == {
        ("labels[4].merchant_id", "required"), ("labels[4].extra", "unknown_field")}
    assert results[5]["error"]["details"] == [{"field": "labels[5]", "issue": "invalid_type"}]

    assert current_label(srv, m, t1) == {"label": "fraud", "source": "chargeback", "reason": "cb",
                                         "at": current_label(srv, m, t1)["at"], "by": srv.key_names["analyst"]}
    assert current_label(srv, m, t2)["label"] == "not_fraud"
    assert current_label(srv, other, t3)["label"] == "fraud"
    audit = srv.audit(object_type="transaction", object_id=f"{m}/{t1}").json["items"]
    assert [e["action"] for e in audit] == ["label"]

    # A key scoped to another merchant: items of this merchant are absent to it.
    r = srv.label_batch([{"merchant_id": m, "transaction_id": t1, "label": "not_fraud", "source": "manual"}],
                        key="analyst-other")
    assert r.status == 200 and r.json["results"][0]["error"]["code"] == "not_found", r
    assert current_label(srv, m, t1)["label"] == "fraud"


def test_batch_shape_and_size_limits(labelled):
    srv = labelled
    item = {"merchant_id": "m-nobody", "transaction_id": "t", "label": "fraud", "source": "manual"}
    assert_error(srv.label_batch([item] * 10001), 422, "validation_failed", details=[("labels", "too_many")])
    assert_error(srv.label_batch([]), 422, "validation_failed", details=[("labels", "required")])
    assert_error(srv.request("POST", "/v1/labels/batch", {"labels": item}, key="analyst"), 422,
                 "validation_failed", details=[("labels", "invalid_type")])
    assert_error(srv.request("POST", "/v1/labels/batch", {"labels": [item], "x": 1}, key="analyst"), 422,
                 "validation_failed", details=[("x", "unknown_field")])
    # The most items, with long reasons (several MiB): within the route's body limit.
    big = [dict(item, transaction_id=f"t-{i}", reason="r" * 400) for i in range(10000)]
    r = srv.label_batch(big)
    assert r.status == 200, r
    results = r.json["results"]
    assert len(results) == 10000 and all(x["error"]["code"] == "not_found" for x in results)


# ============================================================== CLI import


def test_cli_import_of_a_csv_with_quoted_fields_and_bad_lines(labelled, tmp_path):
    srv = labelled
    m = unique_merchant("csv")
    t1, t2, t3 = decided(srv, m, 3)
    missing = "no-such-" + unique_id()
    csv = (
        "merchant_id,transaction_id,label,source,reason,at\r\n"                        # line 1
        f'{m},{t1},fraud,chargeback,"Chargeback, code ""4837""",2026-11-25T10:00:00Z\r\n'  # line 2
        f'{m},{t2},not_fraud,customer_report,"two\nlines",\r\n'                          # lines 3-4
        f"{m},{missing},fraud,manual,,\r\n"                                             # line 5: unknown
        f"{m},{t3},probably,manual,,\r\n"                                               # line 6: bad label
        f"{m},{t3},fraud,issuer_alert,,2026-11-25T11:00:00Z\r\n"                         # line 7
    )
    path = tmp_path / "labels.csv"
    path.write_text(csv)
    cp = run_cli(["labels", "import", str(path), "--url", srv.base_url], env={"TXV_API_KEY": srv.keys["analyst"]})
    assert cp.returncode == 1, (cp.stdout, cp.stderr)
    assert cp.stdout.splitlines() == [
        "3 rows accepted, 2 rows refused",
        "line 5: not_found",
        "line 6: validation_failed (label: invalid_value)",
    ], cp.stdout
    assert "\r" not in cp.stderr  # no progress line when stderr is not a terminal

    assert current_label(srv, m, t1) == {"label": "fraud", "source": "chargeback",
                                         "reason": 'Chargeback, code "4837"', "at": "2026-11-25T10:00:00.000Z",
                                         "by": srv.key_names["analyst"]}
    assert current_label(srv, m, t2)["reason"] == "two\nlines"
    assert current_label(srv, m, t3)["source"] == "issuer_alert"

    # Every row accepted: exit 0. Columns in another order, optional ones left out.
    ok = tmp_path / "ok.csv"
    ok.write_text(f"source,label,transaction_id,merchant_id\nmanual,not_fraud,{t3},{m}\n")
    cp = run_cli(["labels", "import", str(ok), "--url", srv.base_url], env={"TXV_API_KEY": srv.keys["admin"]})
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert cp.stdout.splitlines() == ["1 rows accepted, 0 rows refused"]
    assert current_label(srv, m, t3)["label"] == "not_fraud"

    # A validator key: the whole batch is refused; exit 1 naming why. No key: usage error, exit 2.
    cp = run_cli(["labels", "import", str(ok), "--url", srv.base_url], env={"TXV_API_KEY": srv.keys["scoped"]})
    assert cp.returncode == 1 and "forbidden" in cp.stderr, (cp.stdout, cp.stderr)
    cp = run_cli(["labels", "import", str(ok), "--url", srv.base_url])
    assert cp.returncode == 2 and "TXV_API_KEY" in cp.stderr, (cp.stdout, cp.stderr)


# ============================================================== card numbers


def test_card_numbers_never_come_back(labelled, tmp_path):
    srv = labelled
    m = unique_merchant("pan")
    card_pan = make_pan()
    txn = sample_txn(merchant_id=m, card={"number": card_pan, "expiry_month": 12, "expiry_year": 2030})
    srv.validate_ok(txn)
    t = txn["transaction_id"]
    reason_pan = make_pan("51")  # in a brand range: it looks like a card number
    spaced = " ".join(reason_pan[i:i + 4] for i in range(0, 16, 4))
    seen = []

    r = srv.label(m, t, {"label": "fraud", "source": "manual", "reason": f"card {spaced} stolen"})
    seen.append(r.body)
    assert_error(r, 422, "validation_failed", details=[("reason", "looks_like_card_number")])
    r = srv.label_batch([{"merchant_id": m, "transaction_id": t, "label": "fraud", "source": "manual",
                          "reason": reason_pan}])
    seen.append(r.body)
    assert r.json["results"][0]["error"]["details"] == [{"field": "labels[0].reason",
                                                         "issue": "looks_like_card_number"}]
    r = srv.label(m, t, {"label": "fraud", "source": "manual", reason_pan: "x"})
    seen.append(r.body)
    assert r.status == 422
    csv = tmp_path / "pan.csv"
    csv.write_text(f"merchant_id,transaction_id,label,source,reason\n{m},{t},fraud,manual,{reason_pan}\n")
    cp = run_cli(["labels", "import", str(csv), "--url", srv.base_url], env={"TXV_API_KEY": srv.keys["analyst"]})
    assert cp.returncode == 1 and "line 2: validation_failed (reason: looks_like_card_number)" in cp.stdout
    seen += [cp.stdout.encode(), cp.stderr.encode()]

    assert srv.label(m, t, {"label": "fraud", "source": "manual", "reason": "ok"}).status == 201
    seen.append(srv.get_txn(m, t).body)
    seen.append(srv.list_txns(merchant_id=m, label="fraud").body)
    seen.append(srv.audit(object_type="transaction", object_id=f"{m}/{t}").body)
    blob = b"\n".join(seen)
    assert json.loads(srv.get_txn(m, t).body)["label"]["reason"] == "ok"  # the searches can find things
    for pan in (card_pan, reason_pan):
        assert pan.encode() not in blob
    assert reason_pan.encode() not in b"".join(p.read_bytes() for p in srv.db_files())
