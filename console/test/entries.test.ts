import { describe, expect, it } from 'vitest';
import { distinct, findProblems, parseEntries } from '../src/lib/entries';

describe('list files', () => {
  it('takes one trimmed entry a line and drops blank lines', () => {
    expect(parseEntries('a@x.com\r\n  b@x.com  \n\n\t\nc\r')).toEqual(['a@x.com', 'b@x.com', 'c']);
  });
  it('strips a byte-order mark', () => {
    expect(parseEntries('\ufeff400000\n411111')).toEqual(['400000', '411111']);
  });
  it('gives nothing for an empty file', () => {
    expect(parseEntries('')).toEqual([]);
    expect(parseEntries('\n \n')).toEqual([]);
  });
  it('collapses duplicates keeping first-seen order', () => {
    expect(distinct(['b', 'a', 'b', 'c', 'a'])).toEqual(['b', 'a', 'c']);
  });
  it('finds entries over 256 bytes of UTF-8', () => {
    expect(findProblems(['ok', 'é'.repeat(129), 'x'.repeat(256)])).toEqual([{ line: 2, issue: 'too_long' }]);
  });
});
