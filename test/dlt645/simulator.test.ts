import { afterEach, describe, expect, it } from 'vitest';
import { Dlt645Client } from '../../adapters/dlt645/client.ts';
import { DLT645_LINE_CODES } from '../../adapters/dlt645/errors.ts';
import { dlt645 } from '../../adapters/dlt645/protocol.ts';
import type { Dlt645Profile } from '../../adapters/dlt645/profile.ts';
import { civilTimeOf } from '../../adapters/line/civil-time.ts';
import { openByteLine, type ByteLine } from '../../adapters/line/transport.ts';
import { loadFieldProfiles } from '../../config/field-profiles.ts';
import { startDlt645Line } from '../../simulators/dlt645/bus.ts';
import type { LineServer } from '../../simulators/dlt645/line-server.ts';
import { Dlt645SimMeter } from '../../simulators/dlt645/meter.ts';
import { failure } from './golden-harness.ts';

const profiles = loadFieldProfiles();
const dorm = profiles.get('dlt645-single-phase-prepaid') as Dlt645Profile;
const three = profiles.get('dlt645-three-phase') as Dlt645Profile;
const FROZEN = Date.UTC(2026, 10, 27, 12, 0); // 20:00 in Beijing: dorm rooms are busy
const ctx = { timeoutMs: 300, clockZone: 'Asia/Shanghai', device: 'line-1' };
const auth = { password: '02123456', operator: '00000001' };

function meter(id: string, address: string, profile = dorm, seed = 7): Dlt645SimMeter {
  return new Dlt645SimMeter({
    id,
    address,
    profile,
    load: 'dorm-room',
    seed,
    password: '02123456',
    clock: () => FROZEN,
  });
}

describe('DL/T 645 simulator and adapter on a TCP converter line', () => {
  let server: LineServer | undefined;
  let line: ByteLine | undefined;
  afterEach(async () => {
    await line?.close();
    await server?.close();
    line = server = undefined;
  });
  async function open(meters: Dlt645SimMeter[]): Promise<ByteLine> {
    server = await startDlt645Line({ transport: { kind: 'tcp' }, meters });
    line = await openByteLine(
      { kind: 'tcp', host: server.host!, port: server.port! },
      { device: 'line-1', codes: DLT645_LINE_CODES, resyncDelayMs: 20 },
    );
    return line;
  }

  it('polls each meter by its address, values within one BCD step of the simulated ones', async () => {
    const a = meter('A', '000000000101');
    const b = meter('B', '000000000102', three, 9);
    const l = await open([a, b]);
    for (const m of [a, b]) {
      const r = await dlt645.poll(l, m.address, m.profile, ctx);
      const want = m.values();
      expect(Object.keys(r.values).sort()).toEqual(Object.keys(want).sort());
      for (const p of m.profile.points)
        expect(r.values[p.quantity]!).toBeCloseTo(want[p.quantity]!, p.decimals - 1);
      if (m.profile.deviceTime) expect(r.deviceTs).toBe(Math.floor(FROZEN / 1000) * 1000);
    }
    expect(Math.abs(a.values().power_kw! - b.values().power_kw!)).toBeGreaterThan(0); // two meters, two loads
  });

  it('reads the address of the only meter on the line, and garbles with two', async () => {
    const l = await open([meter('A', '000012345678')]);
    expect(await new Dlt645Client(l).readAddress(300)).toBe('000012345678');
    await l.close();
    await server!.close();
    const l2 = await open([meter('A', '000012345678'), meter('B', '000012345679')]);
    const err = await failure(new Dlt645Client(l2).readAddress(300));
    expect(['DLT645_GARBAGE', 'DLT645_CHECKSUM', 'DLT645_TIMEOUT']).toContain(err.code);
  });

  it.each([
    ['silence', 'DLT645_TIMEOUT'],
    ['checksum', 'DLT645_CHECKSUM'],
    ['wrong-address', 'DLT645_GARBAGE'],
    ['garbage', 'DLT645_GARBAGE'],
  ] as const)('fault %s fails the poll with %s, and the next poll after it succeeds', async (fault, code) => {
    const m = meter('A', '000000000101');
    const l = await open([m]);
    m.setFault({ type: fault });
    expect((await failure(dlt645.poll(l, m.address, dorm, ctx))).code).toBe(code);
    m.setFault({ type: 'none' });
    expect((await dlt645.poll(l, m.address, dorm, ctx)).values.energy_import_kwh).toBeGreaterThan(0);
  });

  it('a meter whose clock reset shows year 2000; a broadcast time set puts it right', async () => {
    const m = meter('A', '000000000101');
    const l = await open([m]);
    m.setFault({ type: 'clock-reset' });
    const before = await dlt645.poll(l, m.address, dorm, ctx);
    expect(new Date(before.deviceTs!).getUTCFullYear()).toBe(1999); // 2000-01-01 00:00 Beijing = 1999-12-31 16:00 UTC
    await new Dlt645Client(l).broadcastTime(civilTimeOf(FROZEN, 'Asia/Shanghai'), 300);
    await new Promise((r) => setTimeout(r, 50)); // a broadcast has no answer to wait for
    expect((await dlt645.poll(l, m.address, dorm, ctx)).deviceTs).toBe(FROZEN);
  });

  it('trip, allow closing (closes only when the button is pressed), close directly; read back each time', async () => {
    const m = meter('A', '000000000101');
    const l = await open([m]);
    const ctl = { ...ctx, now: FROZEN, auth };
    expect(await dlt645.control!(l, m.address, dorm, 'open', ctl)).toBe('open');
    expect(m.relayClosed).toBe(false);
    expect(await dlt645.control!(l, m.address, dorm, 'close', ctl)).toBe('armed'); // not closed
    expect(m.relayClosed).toBe(false);
    m.pressButton();
    expect((await dlt645.poll(l, m.address, dorm, ctx)).values.relay_closed).toBe(1);
    await dlt645.control!(l, m.address, dorm, 'open', ctl);
    const direct = { ...dorm, relay: { ...dorm.relay!, restore: 'close-directly' as const } };
    expect(await dlt645.control!(l, m.address, direct, 'close', ctl)).toBe('closed');
    expect(m.events.map((e) => e.action)).toEqual(['trip', 'allowClosing', 'trip', 'closeDirectly']);
  });

  it('a wrong password and a meter refusing control are DLT645_DENIED with bit 2, and nothing switches', async () => {
    const m = meter('A', '000000000101');
    const l = await open([m]);
    const wrong = await failure(
      dlt645.control!(l, m.address, dorm, 'open', {
        ...ctx,
        now: FROZEN,
        auth: { ...auth, password: '02999999' },
      }),
    );
    expect(wrong.code).toBe('DLT645_DENIED');
    expect(wrong.detail?.errorBits).toBe(4);
    m.setFault({ type: 'denied-control' });
    expect(
      (await failure(dlt645.control!(l, m.address, dorm, 'open', { ...ctx, now: FROZEN, auth }))).code,
    ).toBe('DLT645_DENIED');
    expect(m.relayClosed).toBe(true);
    expect(m.events).toEqual([]);
  });
});
