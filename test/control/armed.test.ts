import { describe, expect, it } from 'vitest';
import { commandAckTopic } from '../../services/operations/control/commands.ts';
import { controlFixture, people, signedAck } from './support.ts';

/**
 * A DL/T 645 restore by "allow closing" (1B): the meter takes the close as permission and its
 * relay stays open until the customer presses the button. The gateway acks it `armed`; the
 * control service records it as its own final state — never done (nothing closed), never failed
 * (nothing went wrong) — and only a signed ack of a close that reads back open can say so.
 */
const ackTopic = commandAckTopic('east', 'gw1', 'E-101');

async function sentRestore() {
  const f = controlFixture();
  const req = f.control.request({
    meter: 'E-101',
    action: 'close',
    reason: 'paid',
    requestedBy: people.operator,
  });
  await f.control.approve(people.supervisor, req.id);
  return { ...f, req, id: f.sent[0]!.id };
}

const armedAck = { action: 'close' as const, ok: false, armed: true as const, observed: 'open' as const };

describe('an armed restore (allow closing)', () => {
  it('is recorded as armed: not done, not failed, audited with the gateway’s message', async () => {
    const { control, audit, req, id } = await sentRestore();
    const outcome = control.handleAck(
      ackTopic,
      signedAck({ id, ...armedAck, message: 'closing allowed: awaiting the customer' }),
    );
    expect(outcome).toEqual({ kind: 'recorded', requestId: req.id, ok: false, late: false, armed: true });
    expect(control.get(req.id)).toMatchObject({ state: 'armed', observed: 'open', error: null });
    const entry = audit.query({ action: 'relay.ack' })[0]!;
    expect(entry.after).toMatchObject({ state: 'armed', armed: true, ok: false, error: null });
    expect(entry.reason).toBe('closing allowed: awaiting the customer');
    // Final: a second ack (e.g. a forged "closed") changes nothing.
    expect(
      control.handleAck(ackTopic, signedAck({ id, action: 'close', ok: true, observed: 'closed' })),
    ).toMatchObject({ kind: 'duplicate' });
    expect(control.get(req.id).state).toBe('armed');
  });

  it('leaves the meter free for the next request (a cut-off if the credit runs out again)', async () => {
    const { control, id } = await sentRestore();
    control.handleAck(ackTopic, signedAck({ id, ...armedAck }));
    const cut = control.request({
      meter: 'E-101',
      action: 'open',
      reason: 'r',
      requestedBy: people.operator,
    });
    expect(cut.state).toBe('pending');
  });

  it('cannot be claimed for a cut-off, with ok, beside an error, with the relay closed, or added after signing', async () => {
    const { control, req, id } = await sentRestore();
    const forged = [
      signedAck({ id, ...armedAck, action: 'open' }),
      signedAck({ id, ...armedAck, ok: true }),
      signedAck({ id, ...armedAck, error: 'READBACK_MISMATCH' }),
      signedAck({ id, ...armedAck, observed: 'closed' }),
      // A genuine mismatch ack with `armed` added on the way: the signature no longer verifies.
      JSON.stringify({
        ...(JSON.parse(
          signedAck({ id, action: 'close', ok: false, observed: 'open', error: 'READBACK_MISMATCH' }),
        ) as object),
        armed: true,
        error: undefined,
      }),
    ];
    for (const message of forged) expect(control.handleAck(ackTopic, message).kind).toBe('forged');
    expect(control.get(req.id).state).toBe('sent');
  });
});
