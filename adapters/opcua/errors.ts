/**
 * Every way reading an OPC UA server can fail, as a coded error. The gateway turns each into a
 * reading with `quality: "error"` and `error.code`, so each code here is part of the published
 * interface and is documented in OPCUA_ERROR_CATALOGUE.
 */
export const OPCUA_ERROR_CODES = [
  'OPCUA_DISCONNECTED',
  'OPCUA_TIMEOUT',
  'OPCUA_CONNECT_FAILED',
  'OPCUA_ENDPOINT_NOT_FOUND',
  'OPCUA_CERT_UNTRUSTED',
  'OPCUA_CLIENT_CERT_REJECTED',
  'OPCUA_AUTH_FAILED',
  'OPCUA_NODE_UNKNOWN',
  'OPCUA_BAD_STATUS',
  'OPCUA_BAD_VALUE',
  'OPCUA_NO_VALUE',
] as const;
export type OpcuaErrorCode = (typeof OPCUA_ERROR_CODES)[number];

export interface OpcuaErrorDoc {
  /** What happened, for operators. */
  description: string;
  /** Whether the whole session is torn down and rebuilt (with backoff) after this error. */
  reconnects: boolean;
}

export const OPCUA_ERROR_CATALOGUE: Readonly<Record<OpcuaErrorCode, OpcuaErrorDoc>> = Object.freeze({
  OPCUA_DISCONNECTED: {
    description:
      'No session with the OPC UA server: connection refused, lost, or the server restarted; the gateway reconnects with backoff.',
    reconnects: true,
  },
  OPCUA_TIMEOUT: {
    description: 'Connecting, creating the session or a read did not finish within the device timeout.',
    reconnects: true,
  },
  OPCUA_CONNECT_FAILED: {
    description: 'Connecting or creating the session failed for another reason; the message says which.',
    reconnects: true,
  },
  OPCUA_ENDPOINT_NOT_FOUND: {
    description: 'The server offers no endpoint with the configured security mode and policy.',
    reconnects: true,
  },
  OPCUA_CERT_UNTRUSTED: {
    description:
      'The server certificate is not trusted by the gateway; it was saved in the PKI rejected folder. ' +
      'Trust it with `campus-energy opcua trust`; the gateway connects on its next retry.',
    reconnects: true,
  },
  OPCUA_CLIENT_CERT_REJECTED: {
    description:
      'The server refused the secure channel, usually because it does not trust the gateway certificate: ' +
      'trust the gateway certificate on the server.',
    reconnects: true,
  },
  OPCUA_AUTH_FAILED: {
    description:
      'The server refused the user identity (wrong user name or password, or identity type not allowed).',
    reconnects: true,
  },
  OPCUA_NODE_UNKNOWN: {
    description: 'None of the meter’s configured node ids or browse paths exist on the server.',
    reconnects: false,
  },
  OPCUA_BAD_STATUS: {
    description:
      'The server reported a Bad status for every value of the meter; the message names the status codes.',
    reconnects: false,
  },
  OPCUA_BAD_VALUE: {
    description:
      'The server sent values that are not numbers or booleans (or not finite) for every node of the meter.',
    reconnects: false,
  },
  OPCUA_NO_VALUE: {
    description: 'Connected, but the server has not yet sent a value for any node of the meter.',
    reconnects: false,
  },
});

export class OpcuaError extends Error {
  constructor(
    readonly code: OpcuaErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OpcuaError';
  }
}
