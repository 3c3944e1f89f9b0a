export * from './provider.ts';
export * from './payments.ts';
export * from './reconcile.ts';
export * from './mismatch-queue.ts';
export { paymentRoutes } from './routes.ts';
export { createSignedHttpProvider, parseStatement } from './signed-http-provider.ts';
export { PAYMENT_ERRORS, refusePayment, type PaymentErrorCode } from './errors.ts';
