#!/usr/bin/env python3
"""Rule churn for bench/run.sh's RSS check: N rule changes through the API on one keep-alive
connection, in cycles of create -> replace -> delete, each followed by one validate so the
changed rule set is compiled and evaluated on the decision path.

    rule_churn.py PORT API_KEY [CHANGES=1000]

Velocity windows vary (50 distinct minute windows; every 10th replacement an hour window up to
24h, which makes txv backfill its counters), as in the issue's "1,000 rules with 50 windows".
Prints one line: CHURN changes=N validates=N seconds=S errors=N
"""

from __future__ import annotations

import http.client
import json
import sys
import time


def main() -> int:
    port, key = int(sys.argv[1]), sys.argv[2]
    changes = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    errors = 0
    done = validates = 0

    def call(method: str, path: str, body: dict | None, expect: int) -> dict | None:
        nonlocal errors, conn
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            r = conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            errors += 1
            print(f"rule_churn: {method} {path}: {e!r}", file=sys.stderr)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            return None
        if r.status != expect:
            errors += 1
            if errors <= 5:
                print(f"rule_churn: {method} {path} -> {r.status} {data[:200]!r}", file=sys.stderr)
            return None
        return json.loads(data) if data else {}

    def validate(i: int) -> None:
        nonlocal validates
        body = {"transaction_id": f"churn-{time.time_ns()}-{i}", "merchant_id": "m-churn", "amount": 1000 + i,
                "currency": "USD", "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2030},
                "customer": {"id": f"c-{i % 50}", "email": f"c{i % 50}@example.com", "ip": "203.0.113.9",
                             "country": "US"},
                "merchant": {"mcc": "5411", "country": "US"}}
        if call("POST", "/v1/transactions/validate", body, 200) is not None:
            validates += 1

    start = time.monotonic()
    cycle = 0
    while done < changes:
        w1 = f"{1 + cycle % 50}m"
        w2 = f"{1 + (cycle // 10) % 24}h" if cycle % 10 == 9 else f"{1 + (cycle * 7 + 25) % 50}m"
        rule = {"name": f"churn {cycle}", "expression": f'velocity("card", "{w1}").count > {1000 + cycle}',
                "action": "review", "code": f"churn_{cycle}"}
        created = call("POST", "/v1/rules", rule, 201)
        done += 1
        validate(cycle)
        if created is None or done >= changes:
            cycle += 1
            continue
        rid = created["id"]
        rule["expression"] = (f'velocity("customer", "{w2}").amount > {100000 + cycle} || '
                              f'velocity("card", "{w1}").count > {2000 + cycle}')
        call("PUT", f"/v1/rules/{rid}", rule, 200)
        done += 1
        validate(cycle)
        if done >= changes:
            break
        call("DELETE", f"/v1/rules/{rid}", None, 204)
        done += 1
        validate(cycle)
        cycle += 1
    conn.close()
    print(f"CHURN changes={done} validates={validates} seconds={time.monotonic() - start:.1f} errors={errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
