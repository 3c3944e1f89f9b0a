import { simpleParser, type AddressObject } from 'mailparser';
import type { TipsterIdentity } from './tipster.ts';

/**
 * One email of the tip mailbox, read into what a case needs. mailparser does the RFC 5322 and MIME
 * work (RFC 2047 encoded words in GB2312, GBK or UTF-8, quoted-printable and base64 parts, HTML
 * turned into text). What it cannot make a case of (no sender address, nothing in it, a parse
 * error) comes back `flag`ged with why: the case is still recorded, with the raw message, so that
 * the staff read it by hand. Nothing here throws.
 */

export interface ReadMessage {
  subject: string | null;
  text: string;
  messageId: string | null;
  /** When the message says it was sent (its Date header), UTC ms; null when absent or unreadable. */
  date: number | null;
  from: TipsterIdentity | null;
  /** Why the message could not be read as a tip, or null. */
  flag: string | null;
  attachments: { name: string; size: number }[];
}

const MAX_TEXT = 10_000;

export async function readMessage(raw: Buffer): Promise<ReadMessage> {
  const empty: ReadMessage = {
    ...{ subject: null, text: '', messageId: null, date: null, from: null },
    ...{ flag: null, attachments: [] },
  };
  if (raw.length === 0) return { ...empty, flag: 'empty file' };
  if (!/^[\x21-\x39\x3b-\x7e]+:/m.test(raw.subarray(0, 4096).toString('latin1')))
    return { ...empty, flag: 'no header lines: not an RFC 5322 message' };
  try {
    const m = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true });
    const sender = firstAddress(m.from);
    const text = (m.text ?? '').trim().slice(0, MAX_TEXT);
    const subject = m.subject?.trim() || null;
    const out: ReadMessage = {
      subject,
      text,
      messageId: m.messageId ?? null,
      date: m.date && Number.isFinite(m.date.getTime()) ? m.date.getTime() : null,
      from: sender,
      flag: null,
      attachments: m.attachments.map((a) => ({ name: a.filename ?? '(unnamed)', size: a.size })),
    };
    if (!sender?.email) return { ...out, flag: 'no sender address (From)' };
    if (!subject && !text && out.attachments.length === 0) return { ...out, flag: 'no subject and no text' };
    return out;
  } catch (err) {
    return { ...empty, flag: `unreadable: ${(err as Error).message.slice(0, 200)}` };
  }
}

function firstAddress(from: AddressObject | undefined): TipsterIdentity | null {
  const a = from?.value[0];
  if (!a) return null;
  const id: TipsterIdentity = {};
  if (a.name?.trim()) id.name = a.name.trim();
  if (a.address?.trim()) id.email = a.address.trim().toLowerCase();
  return Object.keys(id).length > 0 ? id : null;
}
