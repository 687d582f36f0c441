import { describe, expect, it } from 'vitest';
import { agoRfc3339, buildQuery, localInputToRfc3339, parseAmount, parseQuery } from '../src/lib/query';

describe('buildQuery', () => {
  it('leaves out empty values and encodes the rest', () => {
    expect(buildQuery({ decision: 'review', merchant_id: '', cursor: null, limit: 50, q: 'a b&c', x: undefined })).toBe(
      '?decision=review&limit=50&q=a%20b%26c',
    );
  });
  it('gives an empty string when nothing is set', () => {
    expect(buildQuery({ a: '', b: null })).toBe('');
  });
  it('trims strings and keeps false and 0', () => {
    expect(buildQuery({ m: '  m-1 ', resolved: false, min: 0 })).toBe('?m=m-1&resolved=false&min=0');
  });
  it('round-trips through parseQuery', () => {
    const q = { merchant_id: 'm:1', since: '2026-01-01T00:00:00Z' };
    expect(parseQuery(buildQuery(q))).toEqual(q);
  });
});

describe('times and amounts', () => {
  it('converts datetime-local values to RFC 3339 UTC', () => {
    const out = localInputToRfc3339('2026-03-01T10:30');
    expect(out).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(new Date(out).getTime()).toBe(new Date('2026-03-01T10:30').getTime());
    expect(localInputToRfc3339('')).toBe('');
    expect(localInputToRfc3339('nonsense')).toBe('');
  });
  it('computes "ago" timestamps', () => {
    expect(agoRfc3339(3600, Date.parse('2026-01-01T12:00:00Z'))).toBe('2026-01-01T11:00:00Z');
  });
  it('parses amounts in minor units', () => {
    expect(parseAmount('')).toBe('');
    expect(parseAmount(' 50000 ')).toBe(50000);
    expect(parseAmount('12.50')).toBeNull();
    expect(parseAmount('-1')).toBeNull();
  });
});
