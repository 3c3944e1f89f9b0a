import { Command, Option } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadCampus } from '../config/campus.ts';
import { createLogger } from '../gateway/log.ts';
import { subscribeReadings } from '../adapters/mqtt/subscriber.ts';
import { SqliteDeadLetterStore } from '../services/metering/ingest/dead-letters.ts';
import { intervalConsumption } from '../services/metering/consumption/consumption.ts';
import { openStore } from '../services/metering/open-store.ts';
import {
  consumptionCsv,
  formatLocalTime,
  parseLocalTime,
} from '../services/metering/consumption/local-time.ts';
import type { CumulativeQuantity, Step } from '../services/metering/storage.ts';
import { meterRegistry } from '../config/registry.ts';
import { QUANTITIES } from '../config/schemas/quantities.ts';
import { startFarm } from '../simulators/farm.ts';
import { farmSpecFromCampus } from '../simulators/from-campus.ts';
import { demoScenario } from '../simulators/scenario/demo.ts';
import { renderScenario } from '../simulators/scenario/render.ts';
import { loadScenarioFile } from '../simulators/scenario/schema.ts';
import { writeBrokerConfig } from '../adapters/mqtt/acl.ts';
import { SqliteStore } from '../adapters/sqlite/store.ts';
import { DurationSchema } from '../config/schemas/campus.ts';
import { ensureControlKeys } from '../services/operations/control/keys.ts';
import { registerGatewayCommand } from './gateway-cli.ts';
import { registerOpcuaCommands } from './opcua-cli.ts';
import { registerDlt645Commands } from './dlt645-cli.ts';
import { registerDemoCommand } from './demo.ts';
import { registerRunCommand } from './run-cli.ts';
import { registerIngestCommand } from './ingest-cli.ts';
import { registerBackofficeCommand } from './backoffice-cli.ts';
import { registerBackupCommands } from './backup-cli.ts';
import { registerDoctorCommand } from './doctor-cli.ts';
import { registerAuditCommands } from './audit-cli.ts';
import { registerUsersCommands } from './users-cli.ts';
import { registerDetectCommands } from './detect-cli.ts';
import { registerBillingCommands } from './billing-cli.ts';
import { campusVee } from '../services/metering/vee/campus.ts';

const program = new Command('campus-energy').description('Campus energy metering gateway and back office');

import { guarded, onShutdown } from './cli-shared.ts';

const config = program.command('config').description('Campus configuration');
config
  .command('check')
  .argument('<file>', 'campus YAML file')
  .description('Validate a campus file and its profiles; exit 1 naming the file, path and problem')
  .action((file: string) =>
    guarded(async () => {
      const campus = loadCampus(file);
      const meters = campus.config.sites.flatMap((s) =>
        s.gateways.flatMap((g) => g.buses.flatMap((b) => b.meters)),
      );
      const byProfile = new Map<string, number>();
      for (const m of meters) byProfile.set(m.profile, (byProfile.get(m.profile) ?? 0) + 1);
      console.log(`${file}: OK`);
      console.log(`  campus: ${campus.config.campus.name} (${campus.config.campus.timezone})`);
      for (const site of campus.config.sites) {
        for (const gw of site.gateways) {
          const n = gw.buses.reduce((k, b) => k + b.meters.length, 0);
          console.log(`  ${site.id}/${gw.id}: ${gw.buses.length} buses, ${n} meters`);
        }
      }
      console.log(`  profiles: ${[...byProfile].map(([p, n]) => `${p}×${n}`).join(', ')}`);
      console.log(`  broker: ${campus.config.mqtt?.url ?? 'embedded (no mqtt section)'}`);
    }),
  );

registerGatewayCommand(program);

registerIngestCommand(program);

registerBackofficeCommand(program);

program
  .command('consumption')
  .description('Interval consumption per meter from the stored registers, as CSV in the campus time zone')
  .requiredOption('-c, --config <file>', 'campus YAML file')
  .requiredOption('-m, --meter <id...>', 'meter ids')
  .requiredOption('--from <date>', 'start, campus time: 2026-11-01 or 2026-11-01T08:00')
  .requiredOption('--to <date>', 'end (exclusive), campus time')
  .addOption(new Option('--step <step>', 'interval').choices(['15m', '1h', '1d', '1mo']).default('1d'))
  .addOption(
    new Option('--quantity <q>', 'cumulative register')
      .choices(['energy_import_kwh', 'energy_export_kwh', 'volume_m3', 'heat_kwh'])
      .default('energy_import_kwh'),
  )
  .action(
    (opts: {
      config: string;
      meter: string[];
      from: string;
      to: string;
      step: Step;
      quantity: CumulativeQuantity;
    }) =>
      guarded(async () => {
        const campus = loadCampus(opts.config);
        const timezone = campus.config.campus.timezone;
        const registry = meterRegistry(campus);
        const unknown = opts.meter.filter((m) => !registry.has(m));
        if (unknown.length > 0) throw new Error(`not in ${opts.config}: ${unknown.join(', ')}`);
        const from = parseLocalTime(opts.from, timezone);
        const to = parseLocalTime(opts.to, timezone);
        if (to <= from) throw new Error('--to must be after --from');
        const store = await openStore(campus, createLogger('warn'));
        try {
          const rows = await intervalConsumption(store, {
            meters: opts.meter,
            quantity: opts.quantity,
            from,
            to,
            step: opts.step,
            timezone,
          });
          process.stdout.write(consumptionCsv(rows, timezone, QUANTITIES[opts.quantity]));
        } finally {
          await store.close();
        }
      }),
  );

program
  .command('dead-letters')
  .description('What ingest refused, and why')
  .requiredOption('-c, --config <file>', 'campus YAML file')
  .addOption(new Option('--limit <n>', 'newest messages to show').default('20').argParser(Number))
  .action((opts: { config: string; limit: number }) =>
    guarded(async () => {
      const campus = loadCampus(opts.config);
      const path = resolve(campus.dataDir, campus.config.ingest.deadLetterPath);
      if (!existsSync(path)) {
        console.log(`no dead letters: ${path} does not exist (ingest has not refused anything yet)`);
        return;
      }
      const store = SqliteDeadLetterStore.open({ path });
      try {
        const { total, byCode } = store.counts();
        console.log(`${total} dead letters in ${path}`);
        for (const [code, n] of Object.entries(byCode)) console.log(`  ${code}: ${n}`);
        for (const d of store.recent(opts.limit)) {
          console.log(
            `${formatLocalTime(d.ts, campus.config.campus.timezone)} ${d.code} ${d.topic}: ${d.reason}`,
          );
        }
      } finally {
        store.close();
      }
    }),
  );

program
  .command('simulate')
  .description("Serve a campus file's TCP buses from a simulated meter farm")
  .requiredOption('-c, --config <file>', 'campus YAML file')
  .option('-g, --gateway <id...>', 'only the buses of these gateways')
  .action((opts: { config: string; gateway?: string[] }) =>
    guarded(async () => {
      const campus = loadCampus(opts.config);
      const { spec, skipped } = farmSpecFromCampus(campus, { gateways: opts.gateway });
      const farm = await startFarm(spec);
      for (const c of farm.concentrators) console.log(`concentrator ${c.id} on 127.0.0.1:${c.port}`);
      for (const l of farm.lines) console.log(`${l.protocol} line ${l.id} on ${l.host}:${l.port}`);
      for (const s of skipped) console.log(`not simulated: ${s}`);
      onShutdown(() => farm.stop());
    }),
  );

registerDemoCommand(program, { guarded, onShutdown });
registerRunCommand(program, { guarded, onShutdown });
registerBackupCommands(program, { guarded });
registerDoctorCommand(program, { guarded });

program
  .command('watch')
  .description('Print readings as they arrive')
  .requiredOption('--url <url>', 'broker URL')
  .option('-t, --topic <filter>', 'topic filter', 'campus/v1/+/+/+/reading')
  .action((opts: { url: string; topic: string }) =>
    guarded(async () => {
      const sub = await subscribeReadings({
        url: opts.url,
        topic: opts.topic,
        onReading: (topic, r) => {
          const values = Object.entries(r.values)
            .map(([q, v]) => `${q}=${Number(v.toFixed(3))}`)
            .join(' ');
          console.log(
            `${new Date(r.ts).toISOString()} ${r.meter} #${r.seq} ${r.quality} ${values}${r.error ? ` ${r.error.code}: ${r.error.message}` : ''}`,
          );
        },
        onInvalid: (topic, reason) => console.log(`INVALID on ${topic}: ${reason}`),
      });
      onShutdown(() => sub.close());
    }),
  );

program
  .command('control-keys')
  .description('Create the Ed25519 key pair relay commands are signed with (if missing) and say where it is')
  .requiredOption('-c, --config <file>', 'campus YAML file')
  .action((opts: { config: string }) =>
    guarded(async () => {
      const k = ensureControlKeys(loadCampus(opts.config));
      console.log(
        `${k.created ? 'created' : 'exists'}: private key ${k.privateKeyFile} (keep it on the control service's machine)`,
      );
      console.log(
        `${k.created ? 'created' : 'exists'}: public key ${k.publicKeyFile} (copy to every gateway: control.publicKeyFile)`,
      );
    }),
  );

program
  .command('broker-config')
  .description(
    'Write mosquitto acl_file and password_file for the campus, and each principal’s password (0600)',
  )
  .requiredOption('-c, --config <file>', 'campus YAML file')
  .requiredOption('-o, --out <dir>', 'folder for acl, passwd and mqtt-secrets.json')
  .option('--rotate', 'new passwords for everyone (gateways must then be re-provisioned)')
  .action((opts: { config: string; out: string; rotate?: boolean }) =>
    guarded(async () => {
      const campus = loadCampus(opts.config);
      const files = writeBrokerConfig({ campus: campus.config, dir: resolve(opts.out), rotate: opts.rotate });
      console.log(`acl_file ${files.aclFile}`);
      console.log(`password_file ${files.passwordFile}`);
      console.log(`passwords (owner-only): ${files.secretsFile}`);
      console.log('mosquitto.conf: acl_file, password_file and allow_anonymous false');
    }),
  );

program
  .command('scenario-render')
  .description('Render a simulated campus scenario straight into a SQLite store, with its ground truth')
  .option('-s, --scenario <file>', 'scenario YAML/JSON (default: the demo scenario)')
  .requiredOption('-o, --out <file>', 'SQLite store to write')
  .option('--days <n>', 'simulated days from the scenario start', '7')
  .option('--step <duration>', 'reading interval', '15m')
  .option('--truth <file>', 'write the ground truth (loss and theft per node and interval) as JSON')
  .action((opts: { scenario?: string; out: string; days: string; step: string; truth?: string }) =>
    guarded(async () => {
      const scenario = opts.scenario ? loadScenarioFile(opts.scenario) : demoScenario();
      const stepMs = DurationSchema.parse(opts.step);
      const days = Number(opts.days);
      if (!(days > 0)) throw new Error(`--days must be a positive number, got ${opts.days}`);
      const store = SqliteStore.open({ path: resolve(opts.out) });
      const started = Date.now();
      try {
        const result = await renderScenario(scenario, {
          from: scenario.start,
          to: scenario.start + days * 86_400_000,
          stepMs,
          writer: store,
        });
        console.log(
          `${result.readings} readings of ${Object.keys(result.nodes).length} nodes, ${result.intervals} intervals, in ${Date.now() - started} ms → ${opts.out}`,
        );
        if (opts.truth) {
          writeFileSync(opts.truth, JSON.stringify(result));
          console.log(`ground truth → ${opts.truth}`);
        }
      } finally {
        await store.close();
      }
    }),
  );

registerOpcuaCommands(program, { loadCampus, guarded });
registerDlt645Commands(program, { guarded });
registerAuditCommands(program);
registerUsersCommands(program);
registerDetectCommands(program);
registerBillingCommands(program, {
  // Bills read VEE's validated intervals over the campus store; the pins land in this database.
  openValidatedSource: async (campus, { db, audit }) => {
    const logger = createLogger('warn');
    const store = await openStore(campus, logger);
    const vee = campusVee({ campus, store, db, audit });
    return Object.assign(vee, { close: () => store.close() });
  },
});

await program.parseAsync(process.argv);
