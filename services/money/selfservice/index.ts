export * from './logins.ts';
export * from './view.ts';
export { selfServiceRoutes, CUSTOMER_COOKIE } from './routes.ts';
export { SELF_SERVICE_ERRORS, type SelfServiceErrorCode } from './errors.ts';
