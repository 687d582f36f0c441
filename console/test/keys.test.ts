import { describe, expect, it } from 'vitest';
import { queueCommand } from '../src/lib/keys';

describe('queue shortcuts', () => {
  it('maps j/k/a/d/n and arrows', () => {
    expect(queueCommand({ key: 'j' })).toBe('next');
    expect(queueCommand({ key: 'ArrowDown' })).toBe('next');
    expect(queueCommand({ key: 'k' })).toBe('prev');
    expect(queueCommand({ key: 'a' })).toBe('approve');
    expect(queueCommand({ key: 'd' })).toBe('decline');
    expect(queueCommand({ key: 'n' })).toBe('note');
    expect(queueCommand({ key: 'x' })).toBeNull();
  });
  it('does nothing while typing in a field', () => {
    expect(queueCommand({ key: 'a', targetTag: 'TEXTAREA' })).toBeNull();
    expect(queueCommand({ key: 'd', targetTag: 'input' })).toBeNull();
    expect(queueCommand({ key: 'j', targetTag: 'SELECT' })).toBeNull();
    expect(queueCommand({ key: 'a', targetTag: 'DIV', targetEditable: true })).toBeNull();
    expect(queueCommand({ key: 'a', targetTag: 'BUTTON' })).toBe('approve');
  });
  it('leaves modified keys to the browser', () => {
    expect(queueCommand({ key: 'a', ctrlKey: true })).toBeNull();
    expect(queueCommand({ key: 'd', metaKey: true })).toBeNull();
    expect(queueCommand({ key: 'j', altKey: true })).toBeNull();
  });
  it('is case-sensitive (A is not a)', () => {
    expect(queueCommand({ key: 'A' })).toBeNull();
  });
});
