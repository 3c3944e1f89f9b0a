export * from './notifier.ts';
export * from './notices.ts';
export { emailNotifier, type EmailSettings } from './email.ts';
export { webhookNotifier } from './webhook.ts';
export { mqttNotifier } from './mqtt.ts';
export { noticeRoutes } from './routes.ts';
