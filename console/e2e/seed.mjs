// Seeds a fresh txv server with data whose numbers the browser suite can predict.
// Usage: TXV_URL=… TXV_ADMIN_KEY=… node seed.mjs OUT.json
import { writeFileSync } from 'node:fs';

const url = process.env.TXV_URL;
const key = process.env.TXV_ADMIN_KEY;
const out = process.argv[2];
if (!url || !key || !out) {
  console.error('usage: TXV_URL=… TXV_ADMIN_KEY=… node seed.mjs OUT.json');
  process.exit(2);
}

async function call(method, path, body, expect = [200, 201]) {
  const res = await fetch(url + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!expect.includes(res.status)) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A 16-digit Visa test number `4000 00nn nnnn nnn?` with a valid Luhn check digit. */
export function visa(serial) {
  const body = `400000${String(serial).padStart(9, '0')}`;
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

// Live rules: a country block (decline), a mid-amount review, and a shadow rule.
const rules = [
  { id: 'rule_block_kp', name: 'Blocked country', expression: "customer.country == 'KP'", action: 'decline', code: 'blocked_country', priority: 10, mode: 'enforce' },
  { id: 'rule_mid_review', name: 'Mid amount review', expression: 'amount >= 20000 && amount < 50000', action: 'review', code: 'mid_amount_review', priority: 20, mode: 'enforce' },
  { id: 'rule_ru_watch', name: 'RU watch', expression: "customer.country == 'RU'", action: 'review', code: 'ru_watch', priority: 30, mode: 'shadow' },
];
for (const r of rules) await call('POST', '/v1/rules', r);

await call('PUT', '/v1/lists/blocked_emails', { entries: ['fraud@example.net', 'chargeback@example.org', 'mule@example.com'] });

// 40 transactions: 4 declined (KP), 6 to review (20000…49999), 7 big (≥ 50000, approved
// by the live rules), 23 small approvals (3 of them from RU, matching the shadow rule).
const K_BIG = 7;
const txs = [];
let serial = 1;
const push = (kind, amount, country) => {
  const n = txs.length + 1;
  txs.push({
    kind,
    req: {
      transaction_id: `seed-${String(n).padStart(3, '0')}`,
      merchant_id: n % 2 ? 'm-shop' : 'm-travel',
      amount,
      currency: 'USD',
      card: { number: visa(serial++), expiry_month: 12, expiry_year: 2035 },
      customer: { id: `c-${n}`, email: `c${n}@example.com`, country, ip: `203.0.113.${n}` },
      merchant: { mcc: '5411', country: 'US' },
      metadata: { channel: n % 3 ? 'web' : 'app' },
    },
  });
};
for (let i = 0; i < 4; i++) push('decline', 1000 + i * 10, 'KP');
for (let i = 0; i < 6; i++) push('review', 20000 + i * 1000, 'US');
for (let i = 0; i < K_BIG; i++) push('big', 50000 + i * 5000, 'US');
for (let i = 0; i < 23; i++) push('small', 500 + i * 25, i < 3 ? 'RU' : 'US');

const batch = await call('POST', '/v1/transactions/validate-batch', { transactions: txs.map((t) => t.req) });
const counts = { approve: 0, decline: 0, review: 0 };
batch.results.forEach((r, i) => {
  if (r.error) throw new Error(`transaction ${i}: ${JSON.stringify(r.error)}`);
  counts[r.decision]++;
  const want = { decline: 'decline', review: 'review', big: 'approve', small: 'approve' }[txs[i].kind];
  if (r.decision !== want) throw new Error(`${r.transaction_id}: decided ${r.decision}, expected ${want}`);
});

// Labels: 3 big ones and 1 declined one are fraud; 2 small ones are not.
const big = txs.filter((t) => t.kind === 'big').map((t) => t.req);
const declined = txs.filter((t) => t.kind === 'decline').map((t) => t.req);
const small = txs.filter((t) => t.kind === 'small').map((t) => t.req);
const label = (t, l, source) => ({ merchant_id: t.merchant_id, transaction_id: t.transaction_id, label: l, source });
const lb = await call('POST', '/v1/labels/batch', {
  labels: [
    label(big[0], 'fraud', 'chargeback'),
    label(big[1], 'fraud', 'issuer_alert'),
    label(big[2], 'fraud', 'chargeback'),
    label(declined[0], 'fraud', 'manual'),
    label(small[5], 'not_fraud', 'customer_report'),
    label(small[6], 'not_fraud', 'manual'),
  ],
});
lb.results.forEach((r, i) => {
  if (!r.ok) throw new Error(`label ${i}: ${JSON.stringify(r)}`);
});

const facts = {
  total: txs.length,
  counts,
  bigCount: K_BIG,
  // Backtest of the live set plus `amount >= 50000` → decline over all seeded decisions.
  expectedProposedDecline: counts.decline + K_BIG,
  expectedApproveToDecline: K_BIG,
  reviews: txs.filter((t) => t.kind === 'review').map((t) => `${t.req.merchant_id}/${t.req.transaction_id}`),
  declined: declined.map((t) => `${t.merchant_id}/${t.transaction_id}`),
  labelled: `${big[0].merchant_id}/${big[0].transaction_id}`,
  rules: rules.map((r) => r.id),
};
writeFileSync(out, JSON.stringify(facts, null, 2));
console.log(`seeded ${txs.length} transactions: ${JSON.stringify(counts)}`);
