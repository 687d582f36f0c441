#!/usr/bin/env python3
"""Generates a realistic decision history on a running txv, for trying rules against it.

Usage: scripts/make-history.py [--url URL] [--transactions N] [--seed S] [--labels FILE.csv]
The API key (admin) comes from TXV_API_KEY.

Sends N transactions through POST /v1/transactions/validate-batch (so every one is decided and
stored like live traffic, decided "now"), with these patterns mixed into ordinary traffic
(about 300 cards, 200 customers, 5 merchants, amounts of a few tens):
  - card testing: a stolen card tried 6-12 times within minutes, small amounts (under 5.00);
  - cash-out: a new device spending 400.00-2,000.00 at a high-risk MCC (7995 or 6051);
  - account takeover: one customer's transactions from 4+ countries' IPs in a burst.
Then writes FILE.csv (default labels.csv) with the ground truth for `txv labels import`: every
transaction of a fraud pattern labelled `fraud` (source chargeback), and 3% of the ordinary ones
`not_fraud` (source manual). Prints one summary line. Standard library only; deterministic for a
seed (transaction ids include the seed and a run id, so a second run adds a second history).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import urllib.error
import urllib.request
import uuid


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--transactions", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--labels", default="labels.csv")
    args = ap.parse_args()
    key = os.environ.get("TXV_API_KEY")
    if not key:
        print("make-history: TXV_API_KEY is required (an admin key)", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    run = f"h{args.seed}-{uuid.uuid4().hex[:6]}"
    merchants = [f"shop-{i}" for i in range(5)]
    prefixes = [rng.choice(["4", "51", "52", "37"]) for _ in range(300)]
    cards = [luhn_complete(p, 15 if p == "37" else 16, rng) for p in prefixes]  # Amex: 15 digits
    customers = [f"cust-{i}" for i in range(200)]

    def txn(seq: int, card: str, customer: str, amount: int, **over) -> dict:
        body = {
            "transaction_id": f"{run}-{seq}",
            "merchant_id": over.pop("merchant", rng.choice(merchants)),
            "type": "purchase",
            "amount": amount,
            "currency": "USD",
            "card": {"number": card, "expiry_month": 12, "expiry_year": 2030},
            "customer": {"id": customer, "email": f"{customer}@mail.example", "country": "US",
                         "ip": over.pop("ip", f"198.51.100.{int(customer.split('-')[1]) % 250}"),
                         "device_id": over.pop("device", f"dev-{customer}")},
            "merchant": {"mcc": over.pop("mcc", "5411"), "country": "US"},
        }
        body.update(over)
        return body

    txns: list[tuple[dict, str | None]] = []  # (body, pattern or None)
    seq = 0
    while len(txns) < args.transactions:
        roll = rng.random()
        if roll < 0.02:  # card testing
            card = luhn_complete("4", 16, rng)
            for _ in range(rng.randint(6, 12)):
                seq += 1
                txns.append((txn(seq, card, rng.choice(customers), rng.randint(100, 499)), "card_testing"))
        elif roll < 0.035:  # cash-out at a high-risk MCC from a new device
            seq += 1
            txns.append((txn(seq, rng.choice(cards), rng.choice(customers), rng.randint(40000, 200000),
                             mcc=rng.choice(["7995", "6051"]), device=f"new-{seq}"), "cash_out"))
        elif roll < 0.045:  # account takeover: one customer, many countries' IPs
            customer = rng.choice(customers)
            for n in range(rng.randint(4, 6)):
                seq += 1
                txns.append((txn(seq, rng.choice(cards), customer, rng.randint(2000, 30000),
                                 ip=f"203.0.{113 + n}.{rng.randrange(250)}"), "account_takeover"))
        else:
            seq += 1
            txns.append((txn(seq, rng.choice(cards), rng.choice(customers), rng.randint(500, 9000)), None))
    txns = txns[: args.transactions]

    decided = {"approve": 0, "decline": 0, "review": 0}
    for start in range(0, len(txns), 200):
        batch = [b for b, _ in txns[start:start + 200]]
        req = urllib.request.Request(args.url.rstrip("/") + "/v1/transactions/validate-batch",
                                     data=json.dumps({"transactions": batch}).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                results = json.load(resp)["results"]
        except urllib.error.HTTPError as e:
            print(f"make-history: the server answered {e.code}: {e.read()[:300]!r}", file=sys.stderr)
            return 1
        except OSError as e:
            print(f"make-history: cannot reach {args.url}: {e}", file=sys.stderr)
            return 1
        for r in results:
            if "error" in r:
                print(f"make-history: a transaction was refused: {r['error']}", file=sys.stderr)
                return 1
            decided[r["decision"]] += 1

    frauds = not_frauds = 0
    with open(args.labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["merchant_id", "transaction_id", "label", "source", "reason"])
        for body, pattern in txns:
            if pattern:
                w.writerow([body["merchant_id"], body["transaction_id"], "fraud", "chargeback", pattern])
                frauds += 1
            elif rng.random() < 0.03:
                w.writerow([body["merchant_id"], body["transaction_id"], "not_fraud", "manual", ""])
                not_frauds += 1
    print(f"make-history: {len(txns)} transactions decided ({decided['approve']} approve, "
          f"{decided['decline']} decline, {decided['review']} review); {args.labels}: {frauds} fraud, "
          f"{not_frauds} not_fraud labels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
