import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signature is an
 * HMAC-SHA256, keyed with the endpoint's secret, over `<webhook-id>.<webhook-timestamp>.<body>`,
 * sent as `v1,<base64>`. During a secret rotation's overlap both secrets sign, space-separated,
 * so a receiver holding either one verifies. The official library does the signing.
 */

/** A new endpoint secret: `whsec_` and 24 random bytes in base64, as the specification's libraries expect. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/** The headers of one delivery attempt. */
export const signedHeaders = (secrets: readonly string[], messageId: string, at: Date, body: string): Record<string, string> => ({
  'webhook-id': messageId,
  'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
  'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(messageId, at, body)).join(' '),
});
