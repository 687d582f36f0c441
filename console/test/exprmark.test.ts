import { describe, expect, it } from 'vitest';
import { markColumn } from '../src/lib/exprmark';

describe('markColumn', () => {
  it('marks the string literal at a 1-based column', () => {
    const m = markColumn("amount > 'x'", 10);
    expect(m.before).toBe('amount > ');
    expect(m.marked).toBe("'x'");
    expect(m.after).toBe('');
  });
  it('marks an identifier or a number', () => {
    expect(markColumn('amont > 5', 1).marked).toBe('amont');
    expect(markColumn('amount > 500 && x', 10).marked).toBe('500');
  });
  it('marks the operator at the column (the server blames `>` in amount > \'x\')', () => {
    expect(markColumn("amount > 'x'", 8).marked).toBe('>');
    expect(markColumn('amount >= 5', 8).marked).toBe('>=');
    const m = markColumn('a && (b', 3);
    expect(m.marked).toBe('&&');
    expect(m.before + m.marked + m.after).toBe('a && (b');
  });
  it('marks one character of anything else', () => {
    expect(markColumn('amount > (5', 10).marked).toBe('(');
  });
  it('handles a column past the end', () => {
    const m = markColumn('amount >', 9);
    expect(m.atEnd).toBe(true);
    expect(m.marked).toBe('');
    expect(m.before).toBe('amount >');
  });
  it('counts code points, not UTF-16 units', () => {
    const m = markColumn("'😀' == x", 8);
    expect(m.marked).toBe('x');
  });
  it('reports the line and column on multi-line text', () => {
    const m = markColumn('amount > 5 &&\n  foo', 17);
    expect(m.marked).toBe('foo');
    expect(m.line).toBe(2);
    expect(m.lineColumn).toBe(3);
  });
});
