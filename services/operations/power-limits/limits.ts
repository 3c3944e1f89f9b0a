import type { PowerLimit, PowerLimitsConfig } from '../../../config/schemas/power.ts';
import type { PolicyVersion } from '../schedules/proposals.ts';

/**
 * Which limit applies to a room: its own (`powerLimits.meters`), else its customer type's, else
 * none. The customer type comes from the room's account, whose type a supervisor verified; the
 * composition root gives it, since this group may not read the accounts.
 */

export const LIMIT_HOLDS = ['power-limit', 'illegal-load'] as const;
export type TripCause = (typeof LIMIT_HOLDS)[number];

export function limitFor(
  config: PowerLimitsConfig,
  meter: string,
  customerType: string | undefined,
): PowerLimit | undefined {
  const own = config.meters[meter];
  if (own) return own;
  if (!customerType) return undefined;
  return (config.byCustomerType as Record<string, PowerLimit | undefined>)[customerType];
}

/** How a trip of each cause is restored: after how long, how many times a local day. */
export function restoreRule(
  config: PowerLimitsConfig,
  cause: TripCause,
  limit: PowerLimit | undefined,
): { restoreAfterMs: number; maxAutoRestoresPerDay: number } {
  if (cause === 'illegal-load')
    return {
      restoreAfterMs: config.illegalLoad.restoreAfter,
      maxAutoRestoresPerDay: config.illegalLoad.maxAutoRestoresPerDay,
    };
  return {
    restoreAfterMs: limit?.restoreAfter ?? 300_000,
    maxAutoRestoresPerDay: limit?.maxAutoRestoresPerDay ?? 0,
  };
}

/**
 * The version a supervisor approves: the campus file's limits over every relay meter of the
 * campus (not only those limited today, so that opening an account does not void the approval).
 */
export function limitsVersion(config: PowerLimitsConfig, relayMeters: readonly string[]): PolicyVersion {
  const { checkEvery: _c, ...body } = config;
  return {
    subject: 'power-limits',
    body,
    meters: [...relayMeters].sort(),
    holds: [...LIMIT_HOLDS],
  };
}
