import { readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';

/**
 * Delivering into a Maildir the way postfix's local(8)/virtual(8) and dovecot-lda do: the message
 * is written whole into tmp/ under a unique name (time.VdevIino.Mµs.host), then renamed into new/.
 * Messages are built by nodemailer's composer or written by hand as raw RFC 5322 text.
 */

let n = 0;
export function deliver(maildir: string, raw: Buffer | string): string {
  n++;
  const name = `1764979200.V803I${1000 + n}M${String(n).padStart(6, '0')}.mail.campus.example`;
  writeFileSync(join(maildir, 'tmp', name), raw);
  renameSync(join(maildir, 'tmp', name), join(maildir, 'new', name));
  return name;
}

export const listNew = (maildir: string) => readdirSync(join(maildir, 'new')).sort();
export const listCur = (maildir: string) => readdirSync(join(maildir, 'cur')).sort();

/** A multipart UTF-8 message as a real mail client sends it (base64 encoded-word subject, text and HTML). */
export async function composed(o: {
  from: string;
  subject: string;
  text: string;
  attachment?: boolean;
}): Promise<Buffer> {
  // nodemailer's stream transport returns the message it would send, bytes and all.
  const transport = createTransport({ streamTransport: true, buffer: true, newline: 'crlf' });
  const info = await transport.sendMail({
    from: o.from,
    to: 'tips@energy.campus.example',
    subject: o.subject,
    text: o.text,
    html: `<p>${o.text}</p>`,
    messageId: `<${o.subject.length}.${o.text.length}@mail.example>`,
    date: new Date(Date.UTC(2026, 10, 1)),
    ...(o.attachment
      ? {
          attachments: [
            { filename: '照片.jpg', content: Buffer.from('not really a jpeg'), contentType: 'image/jpeg' },
          ],
        }
      : {}),
  });
  return info.message as Buffer;
}

/**
 * A message as an older Chinese webmail sends it: GB2312 encoded-word subject, a GBK body in
 * base64, the sender's name GBK-encoded too. The bytes were made with iconv-lite, not by the
 * parser under test.
 */
export const GB2312_TIP = [
  'Return-Path: <lisi@student.campus.example>',
  'Delivered-To: tips@energy.campus.example',
  'Received: from mx.campus.example (mx.campus.example [10.0.0.25])',
  '\tby mail.campus.example (Postfix) with ESMTP id 4F2A1C0012',
  '\tfor <tips@energy.campus.example>; Mon, 30 Nov 2026 21:04:11 +0800 (CST)',
  'From: =?GBK?B?wO7LxA==?= <LiSi@student.campus.example>',
  'To: tips@energy.campus.example',
  'Subject: =?GB2312?B?vtmxqKO6tqvH+MveyeHT0MjL08O158Kv?=',
  'Date: Mon, 30 Nov 2026 21:04:05 +0800',
  'Message-ID: <20261130210405.12345@student.campus.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset="GBK"',
  'Content-Transfer-Encoding: base64',
  '',
  'tqsxtrAxMDG3v7zkze3Jz9K71rHTw7Xnwq+jrMfrwLSy6aGjDQqhqqGq0rvOu82s0ac=',
  '',
].join('\r\n');
export const GB2312_SUBJECT = '举报：东区宿舍有人用电炉';
export const GB2312_BODY = '东1栋101房间晚上一直用电炉，请来查。';
