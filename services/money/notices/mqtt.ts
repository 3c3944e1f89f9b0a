import type { Notifier } from './notifier.ts';

/**
 * Notices on the campus broker, `<topic>/<account>`, QoS 1, not retained (a notice is an event,
 * not a state); the publish function is the back office's own MQTT connection.
 */
export function mqttNotifier(o: {
  topic: string;
  publish: (topic: string, payload: string) => Promise<void>;
}): Notifier {
  return {
    channel: 'mqtt',
    perCustomer: false,
    async send(m) {
      await o.publish(
        `${o.topic.replace(/\/+$/, '')}/${m.account}`,
        JSON.stringify({ id: m.id, ...m.payload }),
      );
    },
  };
}
