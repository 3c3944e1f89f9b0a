/**
 * Why a broker refused a CONNECT, from the error mqtt.js emits for the CONNACK (`code` is the
 * MQTT 3.1.1 return code or the MQTT 5 reason code). Undefined for anything else: a lost or
 * refused TCP connection, a timeout, which retrying can cure.
 */
export type ConnectRefusal = 'protocol' | 'client-id' | 'credentials' | 'authorization';

const BY_CODE: Record<number, ConnectRefusal> = {
  // MQTT 3.1.1 (3.2.2.3). A broker of 3.1.1 answers an MQTT 5 CONNECT with 1 as well.
  1: 'protocol',
  2: 'client-id',
  4: 'credentials',
  5: 'authorization',
  // MQTT 5 (3.2.2.2).
  132: 'protocol',
  133: 'client-id',
  134: 'credentials',
  135: 'authorization',
  138: 'authorization', // banned
  140: 'credentials', // bad authentication method
};

export function connectRefusal(err: Error): ConnectRefusal | undefined {
  if (err.name !== 'ErrorWithReasonCode' && err.constructor.name !== 'ErrorWithReasonCode') return undefined;
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code !== 'number' || !/^Connection refused/i.test(err.message)) return undefined;
  return BY_CODE[code];
}
