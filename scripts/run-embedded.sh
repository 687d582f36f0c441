#!/usr/bin/env bash
# `make run`: starts txv embedded (SQLite + in-process cache) on 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
cat <<'MSG'

txv is starting embedded on http://127.0.0.1:8080 (data in ./txv-data).
In another terminal:

  KEY=$(./build/txv apikey create --role admin --name me)
  curl -s http://127.0.0.1:8080/v1/transactions/validate \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"transaction_id":"ord-1","merchant_id":"m-1","amount":1250,"currency":"USD",
         "card":{"number":"4242424242424242","expiry_month":12,"expiry_year":2030}}'
  curl -s http://127.0.0.1:8080/v1/transactions/m-1/ord-1 -H "Authorization: Bearer $KEY"

The analyst console: open http://127.0.0.1:8080/console/ and sign in with $KEY
(an admin key, or one made with --role analyst).

Stop with Ctrl-C.
MSG
exec ./build/txv serve
