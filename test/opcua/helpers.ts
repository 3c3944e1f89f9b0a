import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpcuaDeviceSchema, type OpcuaDeviceConfig } from '../../config/schemas/campus.ts';
import type { PollResult } from '../../gateway/types.ts';
import type { ElementValues } from '../../simulators/substation/server.ts';

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `campus-opcua-${name}-`));
}

export function deviceConfig(raw: Record<string, unknown>): OpcuaDeviceConfig {
  return OpcuaDeviceSchema.parse({
    id: 'sub1-scada',
    reconnect: { baseBackoff: 200, maxBackoff: 1000 },
    ...raw,
  });
}

/** What a test's OpcuaDevice emitted, with a way to wait for a result matching a condition. */
export class Results {
  readonly all: { meter: string; r: PollResult; at: number }[] = [];

  push = (meter: { id: string }, r: PollResult): void => {
    this.all.push({ meter: meter.id, r, at: Date.now() });
  };

  /** Waits for a result after index `from` that satisfies `pred`; returns it and when it came. */
  async next(
    pred: (r: PollResult, meter: string) => boolean,
    timeoutMs = 10_000,
    from = this.all.length,
  ): Promise<{ meter: string; r: PollResult; at: number; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.all.length; i++) {
        const e = this.all[i]!;
        if (pred(e.r, e.meter)) return { ...e, index: i };
      }
      if (Date.now() > deadline) {
        const tail = this.all.slice(-5).map((e) => JSON.stringify(e.r));
        throw new Error(`no matching result within ${timeoutMs} ms; last: ${tail.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export function isError(code?: string) {
  return (r: PollResult): boolean => 'error' in r && (code === undefined || r.error.code === code);
}

export function hasValue(q: string, pred: (v: number) => boolean = () => true) {
  return (r: PollResult): boolean =>
    'values' in r && q in r.values && pred((r.values as Record<string, number>)[q]!);
}

/** A mutable model of a substation's elements. */
export function model(ids: string[]): {
  values: Map<string, ElementValues>;
  get: (id: string) => ElementValues;
} {
  const values = new Map<string, ElementValues>(
    ids.map((id, i) => [
      id,
      {
        energyImportKwh: 1000 + i,
        powerKw: 100 + i,
        currentA: 150,
        voltageV: 400,
        pf: 0.95,
        breakerClosed: true,
      },
    ]),
  );
  return { values, get: (id) => values.get(id)! };
}
