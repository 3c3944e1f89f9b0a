import { describe, expect, it } from 'vitest';
import {
  evaluate,
  friendlyReason,
  parsePolicy,
  type AccountState,
} from '../../services/money/prepaid/policy.ts';
import { clerk, local, openVerified, setup } from './support.ts';

// Campus calendar 2024, Asia/Shanghai: 1–7 Oct National Day holiday; Sat 12 Oct worked in exchange.
const policy = parsePolicy({
  timezone: 'Asia/Shanghai',
  friendlyHours: { holidays: ['2024-10-01', '2024-10-02', '2024-10-03'], workingWeekendDays: ['2024-10-12'] },
});
const tuesday10 = local(2024, 9, 24, 10);
const room = (balanceFen: number, extra: Partial<AccountState> = {}): AccountState => ({
  id: 'E1-101',
  customerType: 'student-room',
  protected: false,
  balanceFen,
  supply: 'on',
  ...extra,
});

describe('friendly hours (Asia/Shanghai)', () => {
  it.each([
    [local(2024, 9, 24, 10), null],
    [local(2024, 9, 24, 21, 59), null],
    [local(2024, 9, 24, 22), 'night'],
    [local(2024, 9, 25, 7, 59), 'night'],
    [local(2024, 9, 25, 8), null],
    [local(2024, 9, 28, 14), 'weekend'],
    [local(2024, 9, 29, 14), 'weekend'],
    [local(2024, 10, 2, 14), 'holiday'],
    [local(2024, 10, 12, 14), null],
    [local(2024, 10, 12, 23), 'night'],
  ])('%s → %s', (ts, reason) => {
    expect(friendlyReason(policy, ts)).toBe(reason);
  });

  it('uses campus time, not UTC: 01:00 UTC on a Tuesday is 09:00 in Shanghai', () => {
    expect(friendlyReason(policy, Date.UTC(2024, 8, 24, 1))).toBeNull();
    expect(friendlyReason(policy, Date.UTC(2024, 8, 24, 15))).toBe('night'); // 23:00 local
  });
});

describe('evaluate', () => {
  it('raises two alarm levels', () => {
    expect(evaluate(policy, room(2001), tuesday10)).toEqual([]);
    expect(evaluate(policy, room(2000), tuesday10)).toEqual([
      { type: 'alarm', level: 1, balanceFen: 2000, thresholdFen: 2000 },
    ]);
    expect(evaluate(policy, room(500), tuesday10)).toEqual([
      { type: 'alarm', level: 2, balanceFen: 500, thresholdFen: 500 },
    ]);
  });

  it('requests (never executes) a cut-off at or below zero in working hours', () => {
    expect(evaluate(policy, room(1), tuesday10).map((a) => a.type)).toEqual(['alarm']);
    expect(evaluate(policy, room(0), tuesday10)).toContainEqual({
      type: 'request-cutoff',
      reason: 'balance 0 fen is at or below zero',
    });
    expect(evaluate(policy, room(-10, { pending: 'cutoff' }), tuesday10).map((a) => a.type)).toEqual([
      'alarm',
    ]);
  });

  it.each([
    ['night', local(2024, 9, 24, 23)],
    ['weekend', local(2024, 9, 28, 10)],
    ['holiday', local(2024, 10, 1, 10)],
  ])('holds the cut-off in friendly hours: %s', (reason, ts) => {
    const actions = evaluate(policy, room(-100), ts);
    expect(actions.map((a) => a.type)).toEqual(['alarm', 'hold']);
    expect(actions[1]).toMatchObject({ type: 'hold', reason });
  });

  it('cuts off on a worked weekend day', () => {
    expect(evaluate(policy, room(-100), local(2024, 10, 12, 10)).map((a) => a.type)).toContain(
      'request-cutoff',
    );
  });

  it('never cuts off a protected account', () => {
    expect(evaluate(policy, room(-100_000, { protected: true }), tuesday10)).toContainEqual(
      expect.objectContaining({ type: 'hold', reason: 'protected' }),
    );
  });

  it('uses emergency credit: cut-off only once it is used up', () => {
    const household = (balanceFen: number) => room(balanceFen, { customerType: 'staff-household' });
    expect(evaluate(policy, household(-1999), tuesday10).map((a) => a.type)).toEqual(['alarm']);
    expect(evaluate(policy, household(-2000), tuesday10).map((a) => a.type)).toEqual([
      'alarm',
      'request-cutoff',
    ]);
  });

  it('requests a restore once the balance is back above the restore level', () => {
    const p = parsePolicy({
      levels: { 'student-room': { alarm1Fen: 1000, alarm2Fen: 100, restoreAboveFen: 500 } },
    });
    expect(evaluate(p, room(500, { supply: 'off' }), local(2024, 9, 24, 23))).toEqual([]);
    expect(evaluate(p, room(501, { supply: 'off' }), local(2024, 9, 24, 23))).toEqual([
      { type: 'request-restore', reason: 'balance 501 fen is above the restore level 500 fen' },
    ]);
    expect(evaluate(p, room(501, { supply: 'off', pending: 'restore' }), tuesday10)).toEqual([]);
  });

  it('can mute alarms in friendly hours', () => {
    const p = parsePolicy({ muteAlarmsInFriendlyHours: true });
    expect(evaluate(p, room(100), local(2024, 9, 24, 23))).toEqual([]);
    expect(evaluate(p, room(100), tuesday10)).toHaveLength(1);
  });

  it('refuses an inconsistent configuration', () => {
    expect(() => parsePolicy({ levels: { business: { alarm1Fen: 100, alarm2Fen: 200 } } })).toThrow(
      /alarm2Fen/,
    );
    expect(() => parsePolicy({ friendlyHours: { nightFrom: '25:00' } })).toThrow();
  });

  it('Prepaid.evaluate reads the balance from the ledger', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    expect(s.prepaid.evaluate('A', { supply: 'on' }, tuesday10).map((a) => a.type)).toEqual([
      'alarm',
      'request-cutoff',
    ]);
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 10_000, method: 'cash', reference: 'R' });
    expect(s.prepaid.evaluate('A', { supply: 'on' }, tuesday10)).toEqual([]);
    expect(s.prepaid.evaluate('A', { supply: 'off' }, tuesday10).map((a) => a.type)).toEqual([
      'request-restore',
    ]);
  });
});
