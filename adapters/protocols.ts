import { cjt188 } from './cjt188/protocol.ts';
import { dlt645 } from './dlt645/protocol.ts';
import type { FieldProtocol } from './line/protocol.ts';

/**
 * The field protocols besides Modbus (which predates this registry and stays the default). The
 * campus schema takes its bus `protocol` values from here, the profile loader its schemas, the
 * gateway its poll and control: adding a protocol is a folder under adapters/ and one line below.
 */
export const FIELD_PROTOCOLS = {
  dlt645,
  cjt188,
} as const;

export type FieldProtocolId = keyof typeof FIELD_PROTOCOLS;
export const FIELD_PROTOCOL_IDS = Object.keys(FIELD_PROTOCOLS) as FieldProtocolId[];

/** A profile of any field protocol. */
export type FieldProfile =
  (typeof FIELD_PROTOCOLS)[FieldProtocolId] extends FieldProtocol<infer P> ? P : never;

export function fieldProtocol(id: string): FieldProtocol<FieldProfile> | undefined {
  return (FIELD_PROTOCOLS as Record<string, FieldProtocol<FieldProfile>>)[id];
}
