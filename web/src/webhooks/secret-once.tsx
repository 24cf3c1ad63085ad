import { useEffect, useRef } from 'react';
import { CopyButton } from '../ui/copy-button.js';

/**
 * A signing secret, shown the one time the server sends it. It lives only in the state of
 * the screen that received it, so leaving the screen forgets it.
 */
export function SecretOnce({ secret, title, url, onDone }: { secret: string; title: string; url: string; onDone: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  // Focus goes to the box, so a keyboard or screen reader user lands on the secret.
  useEffect(() => heading.current?.focus(), []);
  return (
    <section className="panel secret-once stack" aria-labelledby="secret-once-heading">
      <div>
        <h2 id="secret-once-heading" tabIndex={-1} ref={heading}>{title}</h2>
        <p className="mono endpoint-url">{url}</p>
      </div>
      <p className="alert alert-warning">
        <strong>Copy the signing secret now: you will not see it again.</strong> Store it with your receiver’s other secrets.
      </p>
      <div className="copy-row">
        <code aria-label="Signing secret" className="secret-value">{secret}</code>
        <CopyButton text={secret} label="Copy secret" />
      </div>
      <div className="verify-hint">
        <h3>How to verify a delivery</h3>
        <ul>
          <li>Use a <a href="https://www.standardwebhooks.com/" target="_blank" rel="noreferrer">Standard Webhooks</a> library for your language, with this secret.</li>
          <li>
            It checks the <code>webhook-id</code>, <code>webhook-timestamp</code> and <code>webhook-signature</code> headers: <code>v1,</code> then the base64
            HMAC-SHA256 of <code>id.timestamp.body</code>, keyed with the base64 part of the secret after <code>whsec_</code>.
          </li>
          <li>Refuse timestamps older than five minutes, and skip a <code>webhook-id</code> you have already handled.</li>
        </ul>
      </div>
      <div className="button-row">
        <button type="button" className="button secondary" onClick={onDone}>Done</button>
      </div>
    </section>
  );
}
