import nodemailer from 'nodemailer';
import type { Notifier } from './notifier.ts';

/** Notices by email through the campus's SMTP relay (nodemailer: STARTTLS, AUTH, the format). */
export interface EmailSettings {
  host: string;
  port: number;
  secure: boolean;
  from: string;
  username?: string;
  password?: string;
  /** For a relay on loopback in tests: no certificate check, no STARTTLS required. */
  ignoreTls?: boolean;
}

export function emailNotifier(s: EmailSettings): Notifier {
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    ...(s.ignoreTls ? { ignoreTLS: true } : {}),
    ...(s.username ? { auth: { user: s.username, pass: s.password ?? '' } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    channel: 'email',
    perCustomer: true,
    async send(m) {
      await transport.sendMail({
        from: s.from,
        to: m.to,
        subject: m.subject,
        text: m.text,
        headers: { 'X-Campus-Notice': `${m.id}`, 'X-Campus-Account': m.account },
      });
    },
    async close() {
      transport.close();
    },
  };
}
