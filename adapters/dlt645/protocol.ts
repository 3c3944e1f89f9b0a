import type { FieldProtocol } from '../line/protocol.ts';
import type { ByteLine } from '../line/transport.ts';
import { civilTimeOf } from '../line/civil-time.ts';
import { Dlt645Client } from './client.ts';
import { DLT645_ERROR_CATALOGUE, DLT645_LINE_CODES, dlt645Error } from './errors.ts';
import { pollDlt645, relayClosedOf, relayCommandClosedOf } from './poll.ts';
import { Dlt645ProfileSchema, type Dlt645Profile } from './profile.ts';

const clients = new WeakMap<ByteLine, Dlt645Client>();
function clientOf(line: ByteLine): Dlt645Client {
  let c = clients.get(line);
  if (!c) clients.set(line, (c = new Dlt645Client(line)));
  return c;
}

/**
 * DL/T 645-2007 for the gateway. Relay control: trip (1A) to open; to close, what the profile's
 * `relay.restore` says (1B allow closing, or 1C close directly). Either way the gateway then reads
 * status word 3 and reports what the meter says. After "allow closing" the relay stays open until
 * the customer presses the button: a meter whose command state (bit 6) says closed while the relay
 * (bit 4) is open is `armed`; one still saying open (tripped) did not take the permission: `open`.
 */
export const dlt645: FieldProtocol<Dlt645Profile> = {
  id: 'dlt645',
  title: 'DL/T 645-2007',
  profileSchema: Dlt645ProfileSchema,
  address: { pattern: /^\d{12}$/, hint: '12 digits as on the nameplate, e.g. "000012345678"' },
  errorCatalogue: DLT645_ERROR_CATALOGUE,
  lineCodes: DLT645_LINE_CODES,
  poll: (line, address, profile, ctx) => pollDlt645(clientOf(line), address, profile, ctx),
  canSwitch: (profile) => profile.relay !== undefined,
  async control(line, address, profile, action, ctx) {
    const relay = profile.relay;
    if (!relay) throw dlt645Error('DLT645_DENIED', `${profile.model} has no relay`, ctx.device);
    if (!ctx.auth) {
      throw dlt645Error(
        'DLT645_DENIED',
        'no relay password configured for this bus (control.passwordEnv)',
        ctx.device,
      );
    }
    const client = clientOf(line);
    const n1 =
      action === 'open' ? 'trip' : relay.restore === 'close-directly' ? 'closeDirectly' : 'allowClosing';
    await client.relay(
      address,
      n1,
      ctx.auth,
      civilTimeOf(ctx.now + relay.validFor, ctx.clockZone),
      ctx.timeoutMs,
    );
    const word = await client.read(address, relay.statusDi, ctx.timeoutMs);
    if (relayClosedOf(word, relay.openBit, ctx.device)) return 'closed';
    return n1 === 'allowClosing' && relayCommandClosedOf(word, relay.commandBit, ctx.device)
      ? 'armed'
      : 'open';
  },
};
