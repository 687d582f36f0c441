import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, signIn } from '../api';
import type { Session } from '../types';

export function SignIn({ message, onSignedIn }: { message: string | null; onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  async function submit(e: Event) {
    e.preventDefault();
    if (!key.trim()) {
      setError('Enter an API key.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const s = await signIn(key.trim());
      setKey('');
      onSignedIn(s);
    } catch (err) {
      const a = err as ApiError;
      if (a.status === 401) setError('That key was not accepted. Check it and try again.');
      else if (a.status === 403)
        setError(
          'This key may not use the console: only admin and analyst keys can sign in (validator keys cannot).',
        );
      else if (a.status === 429) setError('Too many attempts. Wait a moment and try again.');
      else setError(a.message || 'Sign-in failed.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="signin">
      <h1>txv console</h1>
      <p class="muted">Sign in with an admin or analyst API key.</p>
      {message && (
        <div class="notice notice-warn" role="status" id="signin-message">
          {message}
        </div>
      )}
      <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          ref={input}
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          aria-invalid={error ? 'true' : undefined}
        />
        {error && (
          <div class="error" role="alert" id="signin-error">
            {error}
          </div>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p class="muted small">
        The key is exchanged for a session cookie (12 hours, or 30 minutes idle) and is not stored by the
        browser.
      </p>
    </main>
  );
}
