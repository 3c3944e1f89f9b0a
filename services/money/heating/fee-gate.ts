import type { Collection } from '../collection/collection.ts';
import { ServiceError } from '../../platform/errors.ts';
import { HEATING_RUN_PREFIX, type HeatingFees } from './fees.ts';
import type { HeatingUnits } from './units.ts';

/**
 * Where a unit's heating fee stands, for the desk's "paying first if not on the payroll": the
 * unit's record in force names the account and payroll code; the season is the one `at` falls in
 * (or the next to come); post-paid collection says whether the season's notice is paid. A fee not
 * yet issued, or issued and not fully paid (penalty included), holds a start.
 */

export interface FeeGateStatus {
  state: 'payroll' | 'paid' | 'unpaid' | 'not-billed';
  account: string | null;
  notice: string | null;
  outstandingFen: number | null;
  detail: string;
}

export function heatingFeeGate(d: { units: HeatingUnits; fees: HeatingFees; collection: Collection }) {
  return {
    status(unit: string, at: number): FeeGateStatus {
      const record = d.units.inForce(unit, at);
      if (!record)
        return {
          state: 'not-billed',
          account: null,
          notice: null,
          outstandingFen: null,
          detail: `${unit} has no certified area or contract`,
        };
      const base = { account: record.account, notice: null, outstandingFen: null };
      if (record.payrollCode)
        return {
          ...base,
          state: 'payroll',
          detail: `${record.account} is on the payroll (${record.payrollCode})`,
        };
      const season = d.fees
        .seasons()
        .filter((s) => s.to > at)
        .sort((a, b) => a.from - b.from)[0];
      if (!season) return { ...base, state: 'not-billed', detail: 'no heating season is defined for now' };
      const table = `ft-${HEATING_RUN_PREFIX}${season.id}`;
      let notices;
      try {
        notices = d.collection.notices(table, at);
      } catch (err) {
        if (err instanceof ServiceError)
          return {
            ...base,
            state: 'not-billed',
            detail: `the fees of season ${season.id} are not issued yet`,
          };
        throw err;
      }
      const n = notices.find((x) => x.account === record.account);
      if (!n)
        return {
          ...base,
          state: 'not-billed',
          detail: `${record.account} has no notice for season ${season.id}`,
        };
      const paid = n.outstandingFen === 0;
      return {
        ...base,
        state: paid ? 'paid' : 'unpaid',
        notice: n.number,
        outstandingFen: n.outstandingFen,
        detail: paid
          ? `notice ${n.number} is paid`
          : `notice ${n.number} has ${n.outstandingFen} fen outstanding`,
      };
    },
  };
}
