import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/** Heating fees, certified areas, contracts and the heat purchase check: coded refusals. */
export const HEATING_MONEY_ERRORS = {
  INVALID_UNIT_RECORD: {
    status: 422,
    description:
      'A heated-area certificate or heating contract is incomplete or wrong: unknown heat meter, an area not in whole hundredths of m², a business without a contract, a date that is not YYYY-MM-DD.',
  },
  INVALID_SEASON: {
    status: 422,
    description:
      'A heating season needs an id, a first and a last day in order, and a whole price in fen per m².',
  },
  SEASON_NOT_FOUND: { status: 404, description: 'No heating season with this id.' },
  SEASON_BILLED: {
    status: 409,
    description: "The season's fees were computed already; they are not computed twice.",
  },
  NOTHING_TO_BILL: {
    status: 409,
    description: 'No unit has a certified area or a contract in force at the season start.',
  },
  INVALID_HEAT_BILL: {
    status: 422,
    description:
      "The supplier's heat bill is incomplete or wrong: unknown station, month not YYYY-MM, amounts not whole fen.",
  },
} as const satisfies ErrorCatalogue;

export function heatingMoneyError(code: keyof typeof HEATING_MONEY_ERRORS, message: string): never {
  return fail(HEATING_MONEY_ERRORS, code, message);
}
