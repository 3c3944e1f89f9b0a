import { MODBUS_ERROR_CATALOGUE } from '../adapters/modbus/errors.ts';
import { OPCUA_ERROR_CATALOGUE } from '../adapters/opcua/errors.ts';
import { FIELD_PROTOCOLS } from '../adapters/protocols.ts';

/**
 * Every `error.code` a reading can carry. Consumers (ingest, VEE, the dashboard) switch on
 * these, so they are part of the MQTT contract; the README lists each one and a test checks it.
 */
export const READING_ERROR_CATALOGUE: Readonly<Record<string, string>> = Object.freeze({
  ...Object.fromEntries(Object.entries(MODBUS_ERROR_CATALOGUE).map(([code, doc]) => [code, doc.description])),
  ...Object.fromEntries(Object.entries(OPCUA_ERROR_CATALOGUE).map(([code, doc]) => [code, doc.description])),
  ...Object.assign({}, ...Object.values(FIELD_PROTOCOLS).map((p) => p.errorCatalogue)),
  BREAKER_OPEN:
    'Not polled: the meter’s circuit breaker is open after failed polls; the message names the last failure. ' +
    'Published once per poll interval so that every interval of every meter is accounted for.',
  GATEWAY_INTERNAL: 'A bug in the gateway while polling this meter; the message says what failed.',
});
