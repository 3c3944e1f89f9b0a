import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { exited, killHard, storedSeqs } from '../helpers/campus-cli.ts';
import { startField, type Field } from '../helpers/field.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';
import {
  alive,
  MQTT5_REFUSED,
  runParts,
  startRun,
  type RunningCampus,
  type RunPart,
} from '../helpers/run-tree.ts';

/**
 * Ctrl-C on `campus-energy run` in a terminal: the terminal sends SIGINT to the whole process
 * group, so every part starts its stop at once, and the supervisor then sends each a SIGTERM. A
 * second signal used to mean "exit now" (exit 130) for a part, so every part was cut short in
 * the middle of its clean stop (the gateway's last acks unwritten, ingest's last PUBACKs unsent).
 * A part of `run` leaves the second signal to its supervisor, which kills it if it overruns.
 */
describe('Ctrl-C on campus-energy run', () => {
  let field: Field;
  let run: RunningCampus | undefined;
  let parts: RunPart[] = [];

  afterAll(async () => {
    for (const p of parts) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
    await killHard(run?.child);
    await field?.stop();
  });

  it('stops every part cleanly when the whole process group gets SIGINT', async () => {
    field = await startField({ concentrators: [{ transport: 'modbus-tcp', meters: 2 }], pollInterval: 500 });
    const config = join(field.dir, 'campus.yaml');
    writeFileSync(config, stringify(field.raw));
    run = startRun({
      config,
      brokerPort: await freePort(),
      httpPort: await freePort(),
      logLevel: 'info',
      detached: true,
    });
    const told = (err: Error): never => {
      throw new Error(`${err.message}; the parts said:\n${run!.said.join('\n')}`);
    };
    await waitFor(
      () => new Set(storedSeqs(join(field.dir, 'store.sqlite')).map((r) => r.meter)).size === 2,
      120_000,
      'readings of both meters',
    ).catch(told);
    await waitFor(
      () => run!.said.some((l) => l.includes('"back office started"')),
      120_000,
      'the back office',
    ).catch(told);
    parts = runParts(run.child.pid!);
    expect(parts.map((p) => p.name).sort()).toEqual(['backoffice', 'gateway', 'ingest']);

    process.kill(-run.child.pid!, 'SIGINT');
    await exited(run.child);
    expect(run.child.exitCode, run.said.join('\n')).toBe(0);
    for (const p of parts) expect(alive(p.pid), p.name).toBe(false);
    // Each part finished its own stop and said so.
    const said = run.said.join('\n');
    expect(said).toContain('"msg":"gateway stopped"');
    expect(said).toMatch(/"component":"ingest".*"msg":"stopped"/);
    expect(said).toContain('"msg":"back office stopped"');
    // Ingest was told the embedded broker's MQTT version: no refused MQTT 5 connection first.
    expect(run.printed(MQTT5_REFUSED)).toBe(false);
  }, 300_000);
});
