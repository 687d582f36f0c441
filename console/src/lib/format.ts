/** Display helpers. Amounts are integers in the currency's minor unit. */

const fractionCache = new Map<string, number>();

/** Digits after the decimal point for a currency (2 for USD, 0 for JPY, 3 for KWD). */
export function minorDigits(currency: string): number {
  const c = currency.toUpperCase();
  let d = fractionCache.get(c);
  if (d === undefined) {
    try {
      d = new Intl.NumberFormat('en', { style: 'currency', currency: c }).resolvedOptions()
        .maximumFractionDigits ?? 2;
    } catch {
      d = 2;
    }
    fractionCache.set(c, d);
  }
  return d;
}

/**
 * `12550, 'USD'` → `USD 125.50`. Exact for any integer amount (no floating point): the
 * minor-unit digits are placed as a string.
 */
export function formatAmount(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  const neg = amount < 0;
  let s = String(Math.abs(Math.trunc(amount)));
  let out: string;
  if (digits === 0) {
    out = groupThousands(s);
  } else {
    s = s.padStart(digits + 1, '0');
    out = `${groupThousands(s.slice(0, -digits))}.${s.slice(-digits)}`;
  }
  return `${currency.toUpperCase()} ${neg ? '-' : ''}${out}`;
}

export function groupThousands(intDigits: string): string {
  return intDigits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function formatCount(n: number): string {
  return groupThousands(String(n));
}

/** A ratio 0…1 as a percentage with one decimal; '—' for null. */
export function formatRate(r: number | null | undefined): string {
  if (r === null || r === undefined || Number.isNaN(r)) return '—';
  return `${(r * 100).toFixed(1)}%`;
}

/** `2026-11-24T10:00:00.123Z` → `2026-11-24 10:00:00 UTC`. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

/** How long ago, coarse: `45 s`, `12 min`, `3 h`, `2 d`. */
export function formatAge(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return 'absent';
  if (typeof v === 'string') return `'${v}'`;
  return String(v);
}
