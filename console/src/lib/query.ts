/** Query-string building: empty, null and undefined values are left out. */
export type QueryValue = string | number | boolean | null | undefined;

export function buildQuery(params: Record<string, QueryValue>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    const s = typeof v === 'string' ? v.trim() : String(v);
    if (s === '') continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(s)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Parses `a=1&b=2` (with or without a leading `?`) into a plain object. */
export function parseQuery(qs: string): Record<string, string> {
  const out: Record<string, string> = {};
  const s = qs.startsWith('?') ? qs.slice(1) : qs;
  if (!s) return out;
  for (const part of s.split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    const k = decodeURIComponent((i < 0 ? part : part.slice(0, i)).replace(/\+/g, ' '));
    const v = i < 0 ? '' : decodeURIComponent(part.slice(i + 1).replace(/\+/g, ' '));
    out[k] = v;
  }
  return out;
}

/**
 * A `<input type="datetime-local">` value (local wall time, no zone) to RFC 3339 UTC with `Z`,
 * as the API wants. Empty or unparseable input gives ''.
 */
export function localInputToRfc3339(value: string): string {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Now minus `seconds`, as RFC 3339 UTC (whole seconds). */
export function agoRfc3339(seconds: number, now: number = Date.now()): string {
  return new Date(now - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Parses a non-negative integer amount in minor units; '' when empty; null when invalid. */
export function parseAmount(value: string): number | '' | null {
  const s = value.trim();
  if (s === '') return '';
  if (!/^\d{1,16}$/.test(s)) return null;
  return Number(s);
}
