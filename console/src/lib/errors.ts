/** Turns API errors into what a person reads. */
export interface ErrorLike {
  status?: number;
  code?: string;
  message?: string;
  details?: { field: string; issue: string }[];
}

export interface Explained {
  title: string;
  message: string;
  details: string[];
}

const ISSUE_TEXT: Record<string, string> = {
  required: 'is required',
  invalid_format: 'has an invalid format',
  invalid_value: 'has an invalid value',
  too_long: 'is too long',
  too_many: 'has too many items',
  unknown_field: 'is not a known field',
  looks_like_card_number: 'looks like a card number (card numbers are not allowed in free text)',
  out_of_range: 'is out of range',
  duplicate: 'is given twice',
};

export function detailText(d: { field: string; issue: string }): string {
  const t = ISSUE_TEXT[d.issue];
  return t ? `${d.field} ${t} (${d.issue})` : `${d.field}: ${d.issue}`;
}

export function explainError(e: ErrorLike, role?: string): Explained {
  const details = (e.details ?? []).map(detailText);
  const status = e.status ?? 0;
  const msg = e.message ?? 'Something went wrong.';
  if (status === 403) {
    return {
      title: 'Not allowed',
      message:
        role === 'analyst'
          ? `Your analyst key may not do this; ask an admin. (${msg})`
          : `This key may not do this. (${msg})`,
      details,
    };
  }
  if (status === 409 && e.code === 'not_reviewable') {
    return {
      title: 'Already resolved',
      message: 'Someone else already resolved this transaction; it has left your queue. Nothing was changed.',
      details,
    };
  }
  if (status === 409) return { title: 'Conflict', message: msg, details };
  if (status === 412) {
    return {
      title: 'The rules changed meanwhile',
      message: 'Someone changed the live rules since you loaded them. Reload the rules and apply your edits again.',
      details,
    };
  }
  if (status === 413) return { title: 'Too large', message: msg, details };
  if (status === 429) return { title: 'Slow down', message: `Too many requests. ${msg}`, details };
  if (status === 0) return { title: 'No connection', message: msg, details };
  if (status >= 500) return { title: 'Server error', message: msg, details };
  return { title: 'Error', message: msg, details };
}
