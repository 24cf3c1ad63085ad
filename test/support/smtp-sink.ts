import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

/**
 * A real SMTP server on 127.0.0.1 that accepts every message (plain SMTP, no STARTTLS,
 * authentication optional and accepted with any credentials) and keeps it parsed.
 */

export interface SmtpDelivery {
  mail: ParsedMail;
  /** SMTP envelope MAIL FROM, or undefined for the null sender. */
  from: string | undefined;
  /** SMTP envelope RCPT TO addresses. */
  to: string[];
  /** The user name the client authenticated as, when it did. */
  user: string | undefined;
}

export interface SmtpSink {
  host: '127.0.0.1';
  port: number;
  /** Every message received, in order. */
  messages: ParsedMail[];
  /** Every message with its SMTP envelope, in order. */
  deliveries: SmtpDelivery[];
  /** The first received message matching `predicate`, waiting for it when none has arrived yet. */
  waitForMessage(predicate?: (mail: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>;
  close(): Promise<void>;
}

export const startSmtpSink = async (): Promise<SmtpSink> => {
  const messages: ParsedMail[] = [];
  const deliveries: SmtpDelivery[] = [];
  const waiters = new Set<(mail: ParsedMail) => void>();

  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const from = session.envelope.mailFrom;
          messages.push(mail);
          deliveries.push({
            mail,
            from: from ? from.address : undefined,
            to: session.envelope.rcptTo.map((address) => address.address),
            user: typeof session.user === 'string' ? session.user : undefined,
          });
          for (const waiter of [...waiters]) waiter(mail);
          callback();
        })
        .catch((error: unknown) => callback(error instanceof Error ? error : new Error(String(error))));
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    messages,
    deliveries,
    waitForMessage(predicate = () => true, timeoutMs = 10_000) {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise<ParsedMail>((resolve, reject) => {
        const waiter = (mail: ParsedMail) => {
          if (!predicate(mail)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(mail);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`smtp sink: no matching message within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
