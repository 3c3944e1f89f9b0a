import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { desk, setup, supervisor } from './support.ts';
import { composed, deliver, GB2312_BODY, GB2312_SUBJECT, GB2312_TIP, listCur, listNew } from './maildir.ts';

/**
 * The tip mailbox: real RFC 5322 messages delivered into a Maildir as postfix does, taken once each
 * into cases (new/ → cur/ with the Seen flag), the unreadable ones kept and flagged, a redelivered
 * message recorded as a duplicate of its first case, and a process killed between recording a
 * case and moving its file taking nothing twice when it starts again.
 */

describe('the tip mailbox (Maildir)', () => {
  it('reads UTF-8 MIME and GB2312/GBK messages into anonymous email cases and moves each to cur/', async () => {
    const f = await setup();
    const utf8 = deliver(
      f.mailDir,
      await composed({
        from: '"王小明" <wang.xm@staff.campus.example>',
        subject: '西区食堂后面的水表在倒转',
        text: '昨晚看到有人动了水表。',
        attachment: true,
      }),
    );
    const gb = deliver(f.mailDir, GB2312_TIP);
    expect(await f.mail.scan()).toEqual({ taken: 2, flagged: 0, duplicates: 0, moved: 0 });
    expect(listNew(f.mailDir)).toEqual([]);
    expect(listCur(f.mailDir)).toEqual([`${utf8}:2,S`, `${gb}:2,S`]);

    const [second, first] = f.complaints.list(desk);
    expect(first).toMatchObject({
      number: 'TS-2026-0001',
      channel: 'email',
      kind: 'tip',
      summary: '西区食堂后面的水表在倒转',
      anonymous: true,
      flag: null,
      tipster: { name: 'anonymous', email: 'anonymous' },
    });
    expect(first!.details).toContain('昨晚看到有人动了水表。');
    expect(first!.details).toContain('[attachments: 照片.jpg (17 bytes)]');
    expect(second).toMatchObject({ summary: GB2312_SUBJECT, mail: { subject: GB2312_SUBJECT } });
    expect(second!.details).toContain(GB2312_BODY);
    // Only the complaints staff read who sent it; the address is kept as the mailbox saw it, lower-cased.
    expect(f.complaints.tipster(desk, second!.number)).toMatchObject({
      name: '李四',
      email: 'lisi@student.campus.example',
      commitmentHolds: true,
    });
    // The raw message is kept byte for byte.
    expect(f.mail.raw(second!.id)!.toString()).toBe(GB2312_TIP);
    // The supervisor sees the subject, never the sender or the body (it may name the tipster).
    expect(f.complaints.get(supervisor, second!.number)).toMatchObject({
      details: '',
      tipster: { name: 'anonymous', phone: 'anonymous', email: 'anonymous' },
      mail: { messageId: null },
    });
  });

  it('keeps and flags what it cannot read, never dropping a file', async () => {
    const f = await setup({ maxMessageBytes: 20_000 });
    const binary = deliver(f.mailDir, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]));
    const empty = deliver(f.mailDir, '');
    const noFrom = deliver(
      f.mailDir,
      'To: tips@energy.campus.example\r\nSubject: hello\r\n\r\nno sender here\r\n',
    );
    const huge = deliver(f.mailDir, `From: a@b.example\r\nSubject: big\r\n\r\n${'x'.repeat(30_000)}\r\n`);
    expect(await f.mail.scan()).toEqual({ taken: 4, flagged: 4, duplicates: 0, moved: 0 });
    expect(listNew(f.mailDir)).toEqual([]);
    expect(listCur(f.mailDir)).toEqual([binary, empty, noFrom, huge].map((n) => `${n}:2,S`).sort());
    const flags = Object.fromEntries(
      f.complaints.list(desk, { flagged: 'true' }).map((c) => [c.number, c.flag]),
    );
    expect(flags).toEqual({
      'TS-2026-0001': 'no header lines: not an RFC 5322 message',
      'TS-2026-0002': 'empty file',
      'TS-2026-0003': 'no sender address (From)',
      'TS-2026-0004': 'larger than 20000 bytes (30037); the file is kept in cur/',
    });
    // The unreadable bytes are kept for a person to look at; the oversized file stays in cur/.
    expect([...f.mail.raw(1)!]).toEqual([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]);
    expect(f.mail.raw(4)).toBeNull();
    expect(readFileSync(join(f.mailDir, 'cur', `${huge}:2,S`)).length).toBe(30_037);
  });

  it('records a message delivered twice as a duplicate of its first case, and skips dot files', async () => {
    const f = await setup();
    const raw = await composed({ from: 'x@y.example', subject: 'leak', text: 'pipe' });
    deliver(f.mailDir, raw);
    // Dot files are not messages (some delivery agents keep lock or index files there).
    writeFileSync(join(f.mailDir, 'new', '.lock'), '');
    expect((await f.mail.scan()).taken).toBe(1);
    const again = deliver(f.mailDir, raw);
    deliver(f.mailDir, raw);
    expect(await f.mail.scan()).toEqual({ taken: 0, flagged: 0, duplicates: 2, moved: 0 });
    expect(f.complaints.list(desk)).toHaveLength(1);
    expect(f.audit.query({ action: 'complaint.mail-duplicate' }).map((e) => e.subject)).toEqual([
      'complaint:TS-2026-0001',
      'complaint:TS-2026-0001',
    ]);
    expect(listCur(f.mailDir)).toContain(`${again}:2,S`);
    expect(listNew(f.mailDir)).toEqual(['.lock']);
    // Two scans at once are one scan: nothing is taken twice by racing itself.
    deliver(f.mailDir, await composed({ from: 'x@y.example', subject: 'second', text: 'two' }));
    const [a, b] = await Promise.all([f.mail.scan(), f.mail.scan()]);
    expect(a).toBe(b);
    expect(f.complaints.list(desk)).toHaveLength(2);
  });

  it('takes nothing twice when the process is killed after recording a case and before moving its file', async () => {
    const f = await setup();
    const names = [];
    for (const subject of ['one', 'two', 'three'])
      names.push(deliver(f.mailDir, await composed({ from: 'a@b.example', subject, text: subject })));
    const child = (killAfter: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'mail-drop-child.ts')], {
        env: { ...process.env, DB: f.path, MAILDIR: f.mailDir, KILL_AFTER: killAfter },
        encoding: 'utf8',
        timeout: 60_000,
      });
    // The first run dies (SIGKILL, no clean-up) right after committing the second message's case.
    const dead = child(names[1]!);
    expect(dead.signal, dead.stderr).toBe('SIGKILL');
    // Both recorded, the second still in new/: the crash hit between the commit and the rename.
    expect(listNew(f.mailDir)).toEqual([names[1], names[2]]);
    const alive = child('');
    expect(alive.status, alive.stderr).toBe(0);
    expect(JSON.parse(alive.stdout)).toEqual({ taken: 1, flagged: 0, duplicates: 0, moved: 1 });
    expect(listNew(f.mailDir)).toEqual([]);
    expect(listCur(f.mailDir)).toEqual(names.map((n) => `${n}:2,S`));
    const cases = f.db.prepare('SELECT number, data FROM complaint_cases ORDER BY id').all() as {
      number: string;
      data: string;
    }[];
    expect(cases.map((c) => [c.number, JSON.parse(c.data).summary])).toEqual([
      ['TS-2026-0001', 'one'],
      ['TS-2026-0002', 'two'],
      ['TS-2026-0003', 'three'],
    ]);
    expect(f.audit.verify().ok).toBe(true);
  });

  it('waits for a scan in progress before it is idle (so a shutdown never closes the database under it)', async () => {
    const f = await setup();
    for (const subject of ['a', 'b', 'c', 'd'])
      deliver(f.mailDir, await composed({ from: 'a@b.example', subject, text: subject }));
    void f.mail.scan();
    await f.mail.idle();
    expect(listNew(f.mailDir)).toEqual([]);
    expect(f.complaints.list(desk)).toHaveLength(4);
    await f.mail.idle(); // and with nothing running, at once
  });
});
