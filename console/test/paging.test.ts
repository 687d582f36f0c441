import { describe, expect, it } from 'vitest';
import { firstPage, goNext, goPrev, hasNext, hasPrev, loaded, pageNumber } from '../src/lib/paging';

describe('cursor paging', () => {
  it('walks forward and back through the cursors that produced each page', () => {
    let s = firstPage();
    expect(hasPrev(s)).toBe(false);
    expect(hasNext(s)).toBe(false);
    s = loaded(s, 'c1');
    expect(hasNext(s)).toBe(true);
    s = goNext(s);
    expect(s.cursor).toBe('c1');
    expect(pageNumber(s)).toBe(2);
    s = loaded(s, 'c2');
    s = goNext(s);
    expect(s.cursor).toBe('c2');
    expect(pageNumber(s)).toBe(3);
    s = goPrev(s);
    expect(s.cursor).toBe('c1');
    s = goPrev(s);
    expect(s.cursor).toBeNull();
    expect(pageNumber(s)).toBe(1);
    expect(goPrev(s)).toBe(s);
  });
  it('does not move past the last page', () => {
    const s = loaded(firstPage(), null);
    expect(goNext(s)).toBe(s);
  });
  it('revisits a page by the same cursor (pages never shift)', () => {
    let s = goNext(loaded(firstPage(), 'A'));
    s = loaded(s, 'B');
    const back = goNext(loaded(goPrev(s), 'A'));
    expect(back.cursor).toBe('A');
  });
});
