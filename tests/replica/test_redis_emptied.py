"""A Redis that comes back EMPTY (restarted without persistence, a replaced
node, FLUSHALL) is made whole from PostgreSQL: velocity rules decide after it
exactly as they would have without it (issue 9, "keep deciding, lose
nothing"; src/cache/warming_velocity_counters.h). Run with
TXV_E2E_BACKEND=replica and the servers of scripts/test-servers.sh.
"""

from __future__ import annotations

import txvtest
from txvtest import card, make_pan, poll, sample_txn, unique_merchant, THREE_PER_HOUR_CARD_RULE as VELOCITY_RULE

def test_an_emptied_redis_is_made_whole_from_the_database(make_cluster):
    replicas = make_cluster(2)
    assert replicas[0].create_rule(VELOCITY_RULE).status == 201
    version = replicas[0].request("GET", "/v1/rules", key="admin").json["rules_version"]
    for srv in replicas:
        poll(lambda srv=srv: srv.request("GET", "/v1/rules", key="admin").json["rules_version"] == version, 10)

    pan = make_pan()
    merchant = unique_merchant()

    def validate(srv):
        return srv.validate_ok(sample_txn(merchant_id=merchant, card=card(pan)))["decision"]

    assert [validate(replicas[0]), validate(replicas[1])] == ["approve", "approve"]

    # Redis loses everything (the cluster's Redis is the test server; the suite runs one test at a time).
    assert txvtest.redis_command(replicas[0].replica.redis_url, "FLUSHALL") == "OK"

    # As without the flush: the third purchase this hour is approved, the fourth and fifth declined.
    assert validate(replicas[1]) == "approve"
    assert validate(replicas[0]) == "decline"
    assert validate(replicas[1]) == "decline"

    # A card with no history is not affected: three approvals, then declines.
    other = make_pan()
    decisions = [replicas[i % 2].validate_ok(sample_txn(merchant_id=merchant, card=card(other)))["decision"]
                 for i in range(4)]
    assert decisions == ["approve", "approve", "approve", "decline"]

    # Deciding never stopped being exact: the cache is not degraded, /readyz stays ok; one replica noticed the
    # emptied Redis, every replica that decided since says it warms up from the database (card numbers never
    # appear in logs).
    for srv in replicas:
        ready = srv.request("GET", "/readyz", key=None)
        assert ready.status == 200 and ready.json["checks"]["cache"] == "ok", ready
        assert srv.metric("txv_cache_degraded") == 0.0
    logs = [srv.all_logs().decode("utf-8", errors="replace") for srv in replicas]
    assert sum("cache emptied" in text for text in logs) == 1, logs
    assert all("cache emptied" in text or "cache warming" in text for text in logs), logs
    assert all(pan not in text and other not in text for text in logs)
