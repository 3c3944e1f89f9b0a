import type { FieldProtocol } from '../line/protocol.ts';
import type { ByteLine } from '../line/transport.ts';
import { Cjt188Client } from './client.ts';
import { CJT188_ERROR_CATALOGUE, CJT188_LINE_CODES, cjt188Error } from './errors.ts';
import { pollCjt188 } from './poll.ts';
import { Cjt188ProfileSchema, type Cjt188Profile } from './profile.ts';

const clients = new WeakMap<ByteLine, Cjt188Client>();
function clientOf(line: ByteLine): Cjt188Client {
  let c = clients.get(line);
  if (!c) clients.set(line, (c = new Cjt188Client(line)));
  return c;
}

/**
 * CJ/T 188-2004 for the gateway. A valve maps onto the relay contract: `open` (cut) closes the
 * valve, `close` (restore) opens it, and `relay_closed` is 1 while water flows. After the write
 * the valve state is read back with a fresh 901F, never taken from the write's own answer alone.
 */
export const cjt188: FieldProtocol<Cjt188Profile> = {
  id: 'cjt188',
  title: 'CJ/T 188-2004',
  profileSchema: Cjt188ProfileSchema,
  address: { pattern: /^\d{14}$/, hint: '14 digits as on the nameplate, e.g. "00000012345678"' },
  errorCatalogue: CJT188_ERROR_CATALOGUE,
  lineCodes: CJT188_LINE_CODES,
  poll: (line, address, profile, ctx) => pollCjt188(clientOf(line), address, profile, ctx),
  canSwitch: (profile) => profile.valve !== undefined,
  async control(line, address, profile, action, ctx) {
    if (!profile.valve) throw cjt188Error('CJT188_DENIED', `${profile.model} has no valve`, ctx.device);
    const client = clientOf(line);
    await client.valve({ meterType: profile.meterType, address }, action === 'close', ctx.timeoutMs);
    const read = await pollCjt188(client, address, profile, ctx);
    const open = read.values.relay_closed;
    return open === undefined ? null : open ? 'closed' : 'open';
  },
};
