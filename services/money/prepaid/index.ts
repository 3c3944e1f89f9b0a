export * from './prepaid.ts';
export * from './policy.ts';
export * from './free-quota.ts';
export { PREPAID_ERRORS, type PrepaidErrorCode } from './errors.ts';
