import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import { meterRegistry } from '../../../config/registry.ts';
import { openStore } from '../open-store.ts';
import type { MqttConnection } from '../../../adapters/mqtt/connection.ts';
import type { ReadingStore } from '../storage.ts';
import { SqliteDeadLetterStore } from './dead-letters.ts';
import { startIngest, type Ingest } from './ingest.ts';
import type { SeqIndex } from '../storage.ts';

function isSeqIndex(store: object): store is SeqIndex {
  return typeof (store as Partial<SeqIndex>).missingSeqs === 'function';
}

export interface RunningIngest {
  ingest: Ingest;
  store: ReadingStore;
  deadLetters: SqliteDeadLetterStore;
  stop(): Promise<void>;
}

/**
 * Ingest as configured by a campus file: its store, its dead-letter file under dataDir, its
 * meter registry, and the shared-subscription group (null where the broker lacks MQTT 5).
 */
export async function runIngest(
  campus: LoadedCampus,
  mqtt: MqttConnection,
  opts: {
    logger: Logger;
    instance?: string;
    shareGroup?: string | null;
    protocolVersion?: 4 | 5 | 'auto';
  },
): Promise<RunningIngest> {
  const store = await openStore(campus, opts.logger);
  const deadPath = resolve(campus.dataDir, campus.config.ingest.deadLetterPath);
  mkdirSync(dirname(deadPath), { recursive: true });
  const deadLetters = SqliteDeadLetterStore.open({ path: deadPath });
  const gapLedgerPath = resolve(campus.dataDir, campus.config.ingest.gapLedgerPath);
  const seqIndex = isSeqIndex(store) ? store : undefined;
  const ingest = startIngest({
    ...mqtt,
    // On a broker that binds ids to accounts, the username is the id of this account's one session.
    clientId: mqtt.username ?? `campus-energy-ingest-${opts.instance ?? '1'}`,
    shareGroup: opts.shareGroup === undefined ? campus.config.ingest.shareGroup : opts.shareGroup,
    protocolVersion: opts.protocolVersion,
    meters: meterRegistry(campus),
    writer: store,
    deadLetters,
    ...(seqIndex && campus.config.ingest.replay
      ? {
          seqIndex,
          gapLedgerPath,
          gaps: {
            graceMs: campus.config.ingest.replay.grace,
            retryMs: campus.config.ingest.replay.retry,
            giveUpMs: campus.config.ingest.replay.giveUpAfter,
          },
        }
      : {}),
    logger: opts.logger,
  });
  return {
    ingest,
    store,
    deadLetters,
    async stop() {
      await ingest.stop();
      await store.close();
      deadLetters.close();
    },
  };
}
