/**
 * What every command of the CLI shares: the error guard, the shutdown handler and the broker
 * connection from the campus file. Apart from bin/cli.ts so that `campus-energy gateway`
 * (bin/gateway-cli.ts) gets them without loading the rest of the CLI.
 */
import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LoadedCampus } from '../config/campus.ts';
import { ConfigError } from '../config/errors.ts';
import type { MqttConnection } from '../adapters/mqtt/connection.ts';
import { onParentGone } from '../services/platform/supervisor/parent-link.ts';

/** Runs `fn`; a bad config prints where and what, and the process exits 1 before polling anything. */
export async function guarded(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    console.error(`error: ${(err as Error).message}`);
    process.exit(2);
  }
}

/**
 * What a part of `campus-energy run` does when its supervisor dies (SIGKILL included): while it
 * is still starting it exits — it may be waiting for the broker that died with the supervisor, and
 * would otherwise start beside the next supervisor's parts once a broker answers on that port
 * again — and once its shutdown is registered it stops as on SIGTERM (onShutdown).
 */
let whenSupervisorGone = (): void => {
  console.error('supervisor gone while starting: exiting');
  process.exit(1);
};
const supervised = onParentGone(() => whenSupervisorGone());

/** How long a stop may take before the process exits anyway (issue 26 item 7: within 5 s). */
const STOP_DEADLINE_MS = 4500;

export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    // A second signal means "exit now" from an operator at a terminal. A part of `campus-energy
    // run` gets two on every Ctrl-C — the terminal's SIGINT to the whole process group, then its
    // supervisor's SIGTERM — and used to be cut short mid-stop; its supervisor kills it if the
    // stop overruns.
    if (stopping) {
      if (supervised) return;
      process.exit(130);
    }
    begin(signal);
  };
  const begin = (signal: string) => {
    stopping = true;
    console.error(`\n${signal}: stopping…`);
    // Stopping has a deadline (a supervisor or an operator waits for it): what has not stopped by
    // then, a device or broker that does not answer, is left to the exit. Readings lose nothing by
    // it: they are on disk in the outboxes and the store.
    setTimeout(() => {
      console.error(`${signal}: not stopped after ${STOP_DEADLINE_MS} ms; exiting`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
  // A part of `campus-energy run` whose supervisor died stops too, and is not an orphan that
  // polls and holds ports beside the next supervisor's parts; a stop already under way goes on.
  whenSupervisorGone = () => {
    if (!stopping) begin('supervisor gone');
  };
}

export function mqttFor(campus: LoadedCampus, override: string | undefined): MqttConnection | undefined {
  const m = campus.config.mqtt;
  const url = override ?? m?.url;
  if (!url) return undefined;
  const password = m?.passwordEnv ? process.env[m.passwordEnv] : undefined;
  if (m?.passwordEnv && password === undefined) {
    throw new Error(`mqtt.passwordEnv names ${m.passwordEnv}, which is not set in the environment`);
  }
  // The broker's certificate is always verified; a campus CA is read from the file named.
  const ca = m?.caFile ? readFileSync(resolve(dirname(campus.file), m.caFile)) : undefined;
  return { url, username: m?.username, password, ...(ca ? { ca } : {}) };
}

/** The options of a command that may start the embedded broker (`gateway`, `run`), as parsed. */
export interface EmbeddedBrokerOptions {
  brokerPort: number;
  logLevel: string;
}

/** Adds `--broker-port` (described by `brokerPortHelp`) and `--log-level` to `command`. */
export function withEmbeddedBrokerOptions(command: Command, brokerPortHelp: string): Command {
  return command
    .addOption(new Option('--broker-port <port>', brokerPortHelp).default('1883').argParser(Number))
    .addOption(new Option('--log-level <level>').default('info'));
}
