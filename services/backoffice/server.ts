import type { MqttConnection } from '../../adapters/mqtt/connection.ts';
import { createLiveHub, type LiveHub } from '../metering/live/hub.ts';
import { liveRoutes } from '../metering/live/routes.ts';
import { backofficeMetrics, metricsRoutes } from './metrics.ts';
import type { Collector } from '../platform/metrics/exposition.ts';
import { webRoutes } from './web/routes.ts';
import { overviewRoutes } from './overview/routes.ts';
import { campusReportRoutes } from '../money/reports/campus-reports.ts';
import { meterListRoutes } from './lists/meter-list.ts';
import { campusTree } from '../metering/live/tree.ts';
import { createBackoffice, type BackofficeOptions, type RunningBackoffice } from './run.ts';

export interface BackofficeServerOptions extends Omit<BackofficeOptions, 'extraRoutes'> {
  /**
   * The live view's broker login: it reads every reading, which the control principal may not
   * (with ACLs: `svc/monitor`). Default: the back office's own.
   */
  liveMqtt?: MqttConnection;
}

export interface RunningBackofficeServer extends RunningBackoffice {
  hub: LiveHub;
}

/**
 * The back office as operators and inspectors use it: its services and API, the live view (tree,
 * latest readings, SSE), Prometheus metrics and the web app, on one HTTP server.
 */
export async function createBackofficeServer(
  options: BackofficeServerOptions,
): Promise<RunningBackofficeServer> {
  const { campus, store, logger } = options;
  // The live view judges staleness and "today" by the back office's clock, as every other part.
  const hub = await createLiveHub({
    ...{ campus, mqtt: options.liveMqtt ?? options.mqtt, store, logger },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  let bo: RunningBackoffice;
  try {
    bo = await createBackoffice({
      ...options,
      extraRoutes: (s) => [
        ...liveRoutes({
          ...{ hub, campus: s.campus, store: s.store, vee: s.vee, outageOf: s.desk.outageNow },
          ...(options.clock ? { clock: options.clock } : {}),
        }),
        ...metricsRoutes(
          withRetention(
            backofficeMetrics({ hub, alerts: s.alerts, audit: s.audit, control: s.control, users: s.users }),
            () => bo,
          ),
        ),
        webRoutes({ timezone: s.timezone }),
        ...overviewRoutes({
          ...s,
          tree: campusTree(s.campus),
          hub,
          ...(options.clock ? { clock: options.clock } : {}),
        }),
        ...campusReportRoutes({
          ...s,
          ...(options.clock ? { clock: options.clock } : {}),
          ...(options.billingAccountsFile ? { billingAccountsFile: options.billingAccountsFile } : {}),
          inThread: options.heavyJobsInThreads ?? false,
        }),
        ...meterListRoutes(campusTree(s.campus)),
      ],
    });
  } catch (err) {
    await hub.stop();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    ...bo,
    hub,
    stop: () =>
      (stopping ??= (async () => {
        await bo.stop();
        await hub.stop();
      })()),
  };
}

/** The former name of createBackofficeServer: the same factory. */
export const startBackofficeServer = createBackofficeServer;

/** The back office's metrics and retention's (the retention part starts after these routes are made). */
function withRetention(collect: Collector, backoffice: () => RunningBackoffice | undefined): Collector {
  return async () => [...(await collect()), ...(backoffice()?.retention.metrics() ?? [])];
}
