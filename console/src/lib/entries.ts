/** A list file: one entry per line, trimmed, blank lines dropped (CRLF or LF). */
export function parseEntries(text: string): string[] {
  const out: string[] = [];
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // BOM
  for (const line of body.split(/\r\n|\n|\r/)) {
    const t = line.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

/** Distinct entries, in first-seen order (a list is a set). */
export function distinct(entries: string[]): string[] {
  return Array.from(new Set(entries));
}

/** Bytes of UTF-8 of an entry; the API refuses entries over 256 bytes. */
export function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

export interface EntryProblem {
  line: number;
  issue: 'too_long';
}

/** Entries over 256 bytes of UTF-8 (at most `limit` reported), 1-based positions. */
export function findProblems(entries: string[], limit = 20): EntryProblem[] {
  const out: EntryProblem[] = [];
  for (let i = 0; i < entries.length && out.length < limit; i++) {
    if (utf8Length(entries[i]!) > 256) out.push({ line: i + 1, issue: 'too_long' });
  }
  return out;
}
