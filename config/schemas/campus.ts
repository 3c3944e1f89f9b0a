import { z } from 'zod';
import { PrepaidSettingsSchema } from './prepaid.ts';
import { CollectionSettingsSchema } from './collection.ts';
import { ComplaintsSettingsSchema } from './complaints.ts';
import { OutagesSettingsSchema } from './operations-desk.ts';
import { ReportsSettingsSchema } from './reports.ts';
import { CircuitSchema, PowerLimitsSchema, powerProblems, SchedulesSchema } from './power.ts';
import { NoticesSchema, PaymentsSchema, SelfServiceSchema } from './self-service.ts';
import { QuantitySchema, UnitSchema } from './quantities.ts';
import { FIELD_PROTOCOL_IDS } from '../../adapters/protocols.ts';

/**
 * The campus file: one YAML document describing sites, their gateways, the buses each gateway
 * polls and the meters on them. This schema is the only place a default lives.
 */

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const DURATION_HINT =
  'expected a duration like 500ms, 15s, 1m or 1h, or a positive whole number of milliseconds';
/** `250ms`, `15s`, `1m`, `2h`, or a number of milliseconds. */
export const DurationSchema = z
  .union([z.number(), z.string()], { error: DURATION_HINT })
  .transform((v, ctx) => {
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v > 0) return v;
    } else {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
      if (m) {
        const ms = Math.round(Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS]);
        if (ms > 0) return ms;
      }
    }
    ctx.addIssue({ code: 'custom', message: `${DURATION_HINT}, got ${JSON.stringify(v)}` });
    return z.NEVER;
  });

const Id = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'ids are 1–64 letters, digits, "_", "-" or "." (they become MQTT topic levels)',
  );

/** A meter's own register maximum, where it differs from its profile's (a display re-set by the maker). */
const RolloverAt = z
  .number()
  .positive()
  .finite()
  .optional()
  .describe(
    "Where this meter's cumulative registers wrap back to zero, in the quantity's unit (kWh, m³): the register reads 0 again at this value. Overrides the profile's rolloverAt",
  );

export const MeterSchema = z
  .object({
    id: Id.describe('Unique campus-wide'),
    kind: z.enum(['electricity', 'water', 'heat']),
    profile: z.string().min(1).describe('Profile id: a file name under config/profiles without .yaml'),
    unitId: z
      .number()
      .int()
      .min(1)
      .max(247)
      .describe(
        'Modbus unit id; on a DL/T 645 or CJ/T 188 line the meter’s place on the line (names its health record)',
      ),
    address: z
      .string()
      .regex(
        /^\d{12}$|^\d{14}$/,
        'a DL/T 645 address is 12 digits, a CJ/T 188 address 14, as on the nameplate',
      )
      .optional()
      .describe('DL/T 645 / CJ/T 188 meter address; required on those lines'),
    clockOwner: z
      .enum(['campus', 'utility'])
      .default('campus')
      .describe(
        'Whose clock the meter keeps: a bus with timeSync may carry only meters whose clock the campus owns',
      ),
    pollInterval: DurationSchema.default(60_000),
    parent: Id.optional().describe('The meter upstream of this one in the metering tree'),
    account: z.string().min(1).optional().describe('The customer account billed for this meter'),
    electricityMeter: Id.optional().describe(
      "On a heat meter: the electricity meter of the same unit (building or flat). The electric-heating check judges that meter even without an account, and reads the unit's heating registrations (a stop on the heat meter) for it",
    ),
    circuit: CircuitSchema.default('room').describe(
      'What its relay switches: the whole room, or one circuit (lighting, sockets, air-conditioning) of a room with several relays',
    ),
    name: z.string().optional(),
    rolloverAt: RolloverAt,
    maxPowerKw: z
      .number()
      .positive()
      .finite()
      .optional()
      .describe(
        'The most this installation can draw (its breaker or supply rating): an energy register rising faster than 1.5 × this between two readings is published uncertain (IMPLAUSIBLE_STEP_…), never as good',
      ),
    /** Only read by the simulator: what load this meter sees. */
    simulation: z
      .object({
        load: z.enum(['dorm-room', 'office', 'staff-household', 'business']).default('office'),
        seed: z.number().int().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type MeterConfig = z.infer<typeof MeterSchema>;

const BreakerSchema = z
  .object({
    failures: z.number().int().min(1).default(3).describe('Consecutive failed polls that open the breaker'),
    baseBackoff: DurationSchema.default(5_000),
    maxBackoff: DurationSchema.default(300_000),
  })
  .strict()
  .prefault({});

const LineSilence = DurationSchema.default(250).describe(
  'After a timeout or a bad frame the line is closed this long, so a late answer cannot be taken for the next one',
);

const BusCommon = {
  id: Id,
  timeout: DurationSchema.default(1_000).describe('Per request'),
  retries: z.number().int().min(0).max(5).default(1).describe('Retries of a failed request within one poll'),
  breaker: BreakerSchema,
  meters: z.array(MeterSchema).default([]),
};

export const TcpBusSchema = z
  .object({
    type: z.literal('modbus-tcp'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(502),
    ...BusCommon,
  })
  .strict();

/**
 * What a serial line (on the gateway's own port or behind a converter) says of the meters on it:
 * their protocol, the zone their clocks run in, time setting and relay credentials.
 */
const SerialLineCommon = {
  protocol: z
    .enum(['modbus', ...FIELD_PROTOCOL_IDS])
    .default('modbus')
    .describe(
      'What the meters on this line speak: modbus (RTU), dlt645 (DL/T 645-2007) or cjt188 (CJ/T 188-2004)',
    ),
  clockZone: z
    .string()
    .default('Asia/Shanghai')
    .describe('Time zone the meters’ clocks run in (DL/T 645 and CJ/T 188 clocks carry none)'),
  timeSync: z
    .object({
      every: DurationSchema.default(86_400_000).describe('How often the broadcast time set is sent'),
    })
    .strict()
    .optional()
    .describe(
      'DL/T 645 broadcast time set on this line; refused if a meter on it keeps a clock the campus does not own',
    ),
  control: z
    .object({
      passwordEnv: z
        .string()
        .min(1)
        .describe('Environment variable holding the relay password: level (2 digits) + password (6)'),
      operator: z
        .string()
        .regex(/^\d{8}$/, 'the operator code is 8 digits')
        .default('00000000'),
    })
    .strict()
    .optional()
    .describe('DL/T 645 relay control credentials for the meters on this line'),
};

export const RtuOverTcpBusSchema = z
  .object({
    type: z.literal('rtu-over-tcp').describe('An RS-485 line behind a serial-to-Ethernet converter'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    resyncDelay: LineSilence,
    ...SerialLineCommon,
    ...BusCommon,
  })
  .strict();

export const RtuBusSchema = z
  .object({
    type: z.literal('modbus-rtu'),
    path: z.string().min(1).describe('Serial device, e.g. /dev/ttyUSB0'),
    baudRate: z.number().int().positive().default(9600),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    resyncDelay: LineSilence,
    ...SerialLineCommon,
    ...BusCommon,
  })
  .strict();

export const BusSchema = z.discriminatedUnion('type', [TcpBusSchema, RtuOverTcpBusSchema, RtuBusSchema]);
export type BusConfig = z.infer<typeof BusSchema>;

/** A value in an OPC UA server: a node id, or a browse path from the Objects folder. */
export const OpcuaNodeSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { nodeId: v } : v),
  z
    .object({
      nodeId: z
        .string()
        .regex(/^(ns=\d+;)?[isgb]=.+$/, 'expected a node id like ns=2;s=Feeder1.Energy or i=2258')
        .optional(),
      browsePath: z
        .string()
        .regex(/^\/.+/, 'expected a browse path from Objects like /2:Substation1/2:Feeder1/2:Energy')
        .optional(),
      unit: UnitSchema.optional().describe("The server's engineering unit; default: the quantity's own"),
      deadband: z
        .object({ type: z.enum(['absolute', 'percent']), value: z.number().nonnegative() })
        .strict()
        .optional()
        .describe('Data-change filter of the monitored item, where the server supports it'),
    })
    .strict()
    .refine((n) => (n.nodeId === undefined) !== (n.browsePath === undefined), {
      message: 'give exactly one of nodeId and browsePath',
    }),
);
export type OpcuaNodeConfig = z.infer<typeof OpcuaNodeSchema>;

export const OpcuaMeterSchema = z
  .object({
    id: Id.describe('Unique campus-wide, shared with Modbus meters'),
    kind: z.enum(['electricity', 'water', 'heat']),
    pollInterval: DurationSchema.default(60_000).describe(
      'A reading at least this often; with a subscription also on every change',
    ),
    parent: Id.optional(),
    account: z.string().min(1).optional(),
    electricityMeter: Id.optional().describe(
      "On a heat meter: the electricity meter of the same unit (building or flat). The electric-heating check judges that meter even without an account, and reads the unit's heating registrations (a stop on the heat meter) for it",
    ),
    name: z.string().optional(),
    rolloverAt: RolloverAt,
    nodes: z
      .partialRecord(QuantitySchema, OpcuaNodeSchema)
      .refine((n) => Object.keys(n).length > 0, 'map at least one quantity to a node'),
  })
  .strict();
export type OpcuaMeterConfig = z.infer<typeof OpcuaMeterSchema>;

const OpcuaIdentitySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('anonymous') }).strict(),
  z
    .object({
      type: z.literal('username'),
      username: z.string().min(1),
      passwordEnv: z.string().min(1).describe('Environment variable holding the password'),
    })
    .strict(),
  z
    .object({
      type: z.literal('certificate'),
      certificateFile: z.string().min(1).describe('PEM, relative to the campus file'),
      privateKeyFile: z.string().min(1).describe('PEM, relative to the campus file'),
    })
    .strict(),
]);

export const SECURITY_POLICIES = [
  'None',
  'Basic256Sha256',
  'Aes128_Sha256_RsaOaep',
  'Aes256_Sha256_RsaPss',
] as const;

/** A substation's SCADA or protocol gateway speaking OPC UA. */
export const OpcuaDeviceSchema = z
  .object({
    id: Id,
    endpoint: z.string().regex(/^opc\.tcp:\/\/[^/:]+(:\d+)?(\/.*)?$/, 'expected opc.tcp://host:port/path'),
    securityMode: z.enum(['None', 'Sign', 'SignAndEncrypt']).default('SignAndEncrypt'),
    securityPolicy: z.enum(SECURITY_POLICIES).default('Basic256Sha256'),
    identity: OpcuaIdentitySchema.prefault({ type: 'anonymous' }),
    mode: z
      .enum(['subscribe', 'poll'])
      .default('subscribe')
      .describe('subscribe: monitored items, falling back to polled reads where the server refuses them'),
    publishingInterval: DurationSchema.default(500),
    samplingInterval: DurationSchema.default(250),
    queueSize: z.number().int().min(1).max(1000).default(10),
    timeout: DurationSchema.default(10_000).describe('Per request and for connecting'),
    reconnect: z
      .object({ baseBackoff: DurationSchema.default(1_000), maxBackoff: DurationSchema.default(60_000) })
      .strict()
      .prefault({}),
    meters: z.array(OpcuaMeterSchema).default([]),
  })
  .strict()
  .superRefine((d, ctx) => {
    if ((d.securityMode === 'None') !== (d.securityPolicy === 'None')) {
      ctx.addIssue({
        code: 'custom',
        path: ['securityPolicy'],
        message: `security mode ${d.securityMode} needs ${d.securityMode === 'None' ? 'policy None' : 'a policy other than None'}`,
      });
    }
  });
export type OpcuaDeviceConfig = z.infer<typeof OpcuaDeviceSchema>;

export const OutboxSchema = z
  .object({
    path: z
      .string()
      .optional()
      .describe('SQLite file, relative to the campus file; default <dataDir>/<gateway>-outbox.sqlite'),
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024),
    replayRatePerSec: z.number().int().positive().default(2_000).describe('Publish rate ceiling'),
    maxInFlight: z.number().int().positive().default(100),
    keep: DurationSchema.default(7 * 24 * 3_600_000).describe(
      'Replay window: how long a reading the broker acknowledged stays on the gateway for ingest to ask for again (end-to-end acknowledgement), e.g. 168h',
    ),
    keepMaxBytes: z
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024)
      .describe('Disk budget of the replay window; past it the oldest acknowledged readings go first'),
    announceInterval: DurationSchema.default(10_000).describe(
      "How often the gateway announces each meter's last seq (retained), so ingest can ask for a missing tail",
    ),
  })
  .strict()
  .prefault({});

export const GatewaySchema = z
  .object({
    id: Id,
    healthInterval: DurationSchema.default(30_000),
    outbox: OutboxSchema,
    buses: z.array(BusSchema).default([]),
    opcua: z.array(OpcuaDeviceSchema).default([]).describe('OPC UA servers (substations)'),
    pkiDir: z
      .string()
      .optional()
      .describe('OPC UA certificates, relative to the campus file; default <dataDir>/<gateway>-pki'),
  })
  .strict();
export type GatewayConfig = z.infer<typeof GatewaySchema>;

export const SiteSchema = z
  .object({
    id: Id,
    name: z.string().optional(),
    gateways: z.array(GatewaySchema).default([]),
  })
  .strict();

export const MqttSchema = z
  .object({
    url: z.string().regex(/^mqtts?:\/\/|^wss?:\/\//, 'expected mqtt://, mqtts://, ws:// or wss://'),
    username: z.string().optional(),
    passwordEnv: z
      .string()
      .optional()
      .describe('Name of the environment variable holding the password: secrets never in the file'),
    caFile: z
      .string()
      .optional()
      .describe(
        "mqtts://: PEM of the CA that signed the broker's certificate, relative to the campus file; default the system CAs",
      ),
  })
  .strict();

export const EmbeddedBrokerSchema = z
  .object({
    host: z
      .string()
      .default('127.0.0.1')
      .describe('Where the embedded broker listens: loopback unless told otherwise (then configure tls)'),
    tls: z
      .object({
        certFile: z.string().describe("The broker's certificate (PEM), relative to the campus file"),
        keyFile: z
          .string()
          .describe('Its private key (PEM), relative to the campus file; never in the repository'),
        caFile: z
          .string()
          .optional()
          .describe(
            "The CA that signed the certificate, for the campus's own parts; default the certificate itself",
          ),
      })
      .strict()
      .optional()
      .describe('With a certificate the embedded broker speaks TLS only (mqtts://)'),
  })
  .strict()
  .prefault({});

/** The longest `storage.retention.every`: InfluxDB's raw policy is stretched a day past each hold. */
export const RETENTION_EVERY_MAX_MS = 24 * 3_600_000;

export const RetentionSchema = z
  .object({
    rawDays: z
      .number({ error: 'expected a whole number of days, or null' })
      .int('expected a whole number of days')
      .min(1, 'at least 1 day')
      .max(36_500, 'at most 36500 days (100 years); null keeps raw readings for ever')
      .nullable()
      .default(400)
      .describe(
        'Raw readings older than this many days are deleted unless billing, VEE, ingest or an open alert still needs them; 15-minute and daily roll-ups are kept for ever. Default 400: a bill run re-prices corrections up to 366 days back, plus a month of margin. null: raw readings are kept for ever',
      ),
    every: DurationSchema.default(RETENTION_EVERY_MAX_MS)
      .refine((ms) => ms <= RETENTION_EVERY_MAX_MS, {
        message: 'at most 24h (InfluxDB keeps a held reading one day past the run)',
      })
      .describe('How often the back office applies retention (default 24h, at most 24h)'),
    ingestGaps: z
      .enum(['ledger', 'elsewhere-accepted'])
      .default('ledger')
      .describe(
        "How retention learns which meters have an open ingest gap. ledger (default): from ingest's gap ledger at ingest.gapLedgerPath (an absolute path may point to where another machine's ingest keeps it); while no ledger is there, nothing is deleted. elsewhere-accepted: ingest keeps its ledger where this back office cannot read it, and the campus accepts that retention may delete raw readings an open gap's replay would still merge into (logged at every run)",
      ),
  })
  .strict()
  .prefault({})
  .describe('Retention of raw readings (applied by the back office)');
export type RetentionConfig = z.infer<typeof RetentionSchema>;

export const StorageSchema = z
  .object({
    influx: z
      .object({
        url: z.string().regex(/^https?:\/\//, 'expected http:// or https://'),
        database: z.string().min(1).default('campus_energy'),
        username: z.string().optional(),
        passwordEnv: z.string().optional().describe('Environment variable holding the password'),
      })
      .strict()
      .optional()
      .describe('InfluxDB 1.x; absent: the embedded SQLite store'),
    sqlite: z
      .object({ path: z.string().default('store.sqlite').describe('Relative to dataDir') })
      .strict()
      .prefault({}),
    retention: RetentionSchema,
  })
  .strict()
  .prefault({});
export type StorageConfig = z.infer<typeof StorageSchema>;

export const IngestSchema = z
  .object({
    shareGroup: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .nullable()
      .default(null)
      .describe(
        'MQTT 5 shared-subscription group, so several ingest instances split the load. Default null (a plain subscription): mosquitto 2.0.11 keeps a shared subscription across a restart but delivers nothing to it until ingest renews it, and readings published in that gap are lost (the fault suite lost 153 of 265 on a 5 s stop); a plain one loses none',
      ),
    deadLetterPath: z.string().default('dead-letters.sqlite').describe('Relative to dataDir'),
    gapLedgerPath: z
      .string()
      .default('ingest-gaps.sqlite')
      .describe('Open gaps and lost ranges of the end-to-end acknowledgement; relative to dataDir'),
    replay: z
      .object({
        grace: DurationSchema.default(10_000).describe(
          'How long a hole in a meter’s seqs may stay open (readings in flight) before the store and the gateway are asked',
        ),
        retry: DurationSchema.default(30_000).describe('Between two replay requests for the same meter'),
        giveUpAfter: DurationSchema.default(7 * 24 * 3_600_000).describe(
          "A hole open this long with no answer from its gateway is reported lost (the gateways' outbox.keep)",
        ),
      })
      .strict()
      .nullable()
      .prefault({})
      .describe(
        'End-to-end acknowledgement: ingest asks gateways to replay what no store holds; null turns it off',
      ),
  })
  .strict()
  .prefault({});

export const ControlSchema = z
  .object({
    publicKeyFile: z
      .string()
      .default('control-key.pub.pem')
      .describe(
        'Ed25519 public key (PEM) gateways verify relay commands with; relative to dataDir. Absent file: a gateway accepts no relay command',
      ),
    privateKeyFile: z
      .string()
      .default('control-key.pem')
      .describe(
        "The control service's Ed25519 signing key (PEM), relative to dataDir; never in the repository",
      ),
    commandTtl: DurationSchema.default(300_000).describe(
      'A relay command expires this long after it is issued',
    ),
    gatewayKeyDir: z
      .string()
      .default('gateway-keys')
      .describe(
        "Relative to dataDir: each gateway's Ed25519 key pair for signing its command acknowledgements (<site>.<gateway>.pem on the gateway, made on first start; <site>.<gateway>.pub.pem copied to the back office, which refuses an ack that does not verify with it)",
      ),
  })
  .strict()
  .prefault({});

const SupplyPointId = z
  .string()
  .regex(/^[A-Za-z0-9._:/-]{1,64}$/, 'ids are 1–64 letters, digits and . _ : / -');
const SupplyPrice = z.string().regex(/^\d{1,6}(\.\d{1,5})?$/, 'a price is a decimal string in yuan');

/**
 * Where the power company's or the water company's meter hands over to the campus: what the
 * utility's invoice for it is checked against (services/money/billing/invoice-check.ts).
 */
export const SupplyPointSchema = z
  .object({
    id: SupplyPointId,
    utility: z.enum(['electricity', 'water', 'heat']),
    meter: SupplyPointId.describe("The campus's main meter at the supply point"),
    billedMeters: z
      .array(SupplyPointId)
      .describe('The internal meters billed to customers below the main meter'),
    lossPercent: z
      .number()
      .min(0)
      .max(50)
      .optional()
      .describe('Expected technical loss, % of the main meter; absent: learned from earlier checks'),
    thresholdPercent: z
      .number()
      .positive()
      .max(100)
      .default(3)
      .describe(
        'A figure is flagged when |invoiced − expected| ≥ thresholdPercent % of expected, compared exactly in integers (fen, litres, Wh): exactly 3.00 % above is flagged, one fen less is not',
      ),
    contract: z
      .array(
        z
          .object({
            effectiveFrom: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
            components: z
              .array(z.object({ name: z.string().min(1), price: SupplyPrice }).strict())
              .min(1)
              .describe('Per-unit elements, e.g. energy, water, water-resource-fee, sewage-treatment-fee'),
          })
          .strict(),
      )
      .min(1)
      .describe("The utility's per-unit prices to the campus, by effective date"),
    fixed: z
      .array(
        z
          .object({
            name: z.string().min(1).describe('e.g. basic-charge, demand-charge'),
            quantity: z.number().positive().describe('e.g. contracted kVA'),
            price: SupplyPrice.describe('Yuan per quantity per month'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export const BillingSchema = z
  .object({
    supplyPoints: z
      .array(SupplyPointSchema)
      .default([])
      .describe("The utility supply points whose invoices are checked against the campus's meters"),
  })
  .strict()
  .prefault({});

export const AuthSchema = z
  .object({
    linkDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .default(30)
      .describe(
        'Days an account counts as theirs for whoever re-enabled it or granted it a role: they may not be the other person of a two-person act with it (nor may two accounts one person linked). Whoever created or reset it stays linked, however long, until its holder sets a password of their own',
      ),
    maxLoginDelay: DurationSchema.default(30_000).describe(
      'The longest a wrong password can make an account wait before the next try (never a lock-out)',
    ),
  })
  .strict()
  .prefault({});

export const CampusSchema = z
  .object({
    campus: z
      .object({
        name: z.string().min(1),
        timezone: z.string().default('Asia/Shanghai').describe('For display only; all data is UTC ms'),
      })
      .strict(),
    dataDir: z.string().default('var').describe('Outboxes and embedded stores, relative to the campus file'),
    mqtt: MqttSchema.optional().describe('Absent: an embedded broker is started (demo and trials)'),
    embeddedBroker: EmbeddedBrokerSchema.describe('The embedded broker, where no mqtt section names one'),
    profileDirs: z
      .array(z.string())
      .default([])
      .describe('Extra profile folders, relative to the campus file'),
    storage: StorageSchema,
    ingest: IngestSchema,
    control: ControlSchema.describe('Relay commands (prepaid cut-off and restore)'),
    billing: BillingSchema.describe(
      'Post-paid billing: the utility supply points and their invoice thresholds',
    ),
    prepaid: PrepaidSettingsSchema.describe('The business office: free quota per room and term'),
    collection: CollectionSettingsSchema.describe(
      'Post-paid collection: the objection period, the due date, late-payment penalties',
    ),
    auth: AuthSchema.describe('Staff accounts: the four-eyes link window and the failed-login delay'),
    payments: PaymentsSchema.describe('Self top-up through payment providers (campus card, wallets)'),
    selfService: SelfServiceSchema.describe(
      "Customers' own sign-in: codes, sessions, the remaining-days window",
    ),
    notices: NoticesSchema.describe(
      'Low-balance, cut-off and restore notices to customers: email, webhook, MQTT',
    ),
    schedules: SchedulesSchema.describe(
      'Dorm lights-out and power-on schedules; each acts only once a supervisor approved its current text',
    ),
    powerLimits: PowerLimitsSchema.describe(
      'The most a room may draw, per customer type; over it for a while trips the relay',
    ),
    outages: OutagesSettingsSchema.describe(
      'Planned water, power and heat outages: who approves them per utility, the notice period',
    ),
    complaints: ComplaintsSettingsSchema.describe(
      'Complaints and tips: the tip mailbox (a Maildir) and how often it is read',
    ),
    reports: ReportsSettingsSchema.describe('Energy reports: the unit heat is shown in'),
    sites: z.array(SiteSchema).min(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const p of powerProblems(c)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
    for (const p of heatingLinkProblems(c))
      ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });
export type CampusConfig = z.infer<typeof CampusSchema>;

/**
 * A heat meter's `electricityMeter` names an electricity meter of the campus, and only a heat meter
 * names one: a wrong link would judge (or spare) the wrong household's electricity.
 */
function heatingLinkProblems(c: {
  sites: {
    gateways: {
      buses: { meters: { id: string; kind: string; electricityMeter?: string | undefined }[] }[];
      opcua: { meters: { id: string; kind: string; electricityMeter?: string | undefined }[] }[];
    }[];
  }[];
}): { path: (string | number)[]; message: string }[] {
  const kinds = new Map<string, string>();
  const links: { id: string; kind: string; to: string; path: (string | number)[] }[] = [];
  c.sites.forEach((site, si) =>
    site.gateways.forEach((gw, gi) => {
      const lists = [
        ...gw.buses.map((b, bi) => ({ meters: b.meters, path: ['buses', bi, 'meters'] })),
        ...gw.opcua.map((d, di) => ({ meters: d.meters, path: ['opcua', di, 'meters'] })),
      ];
      for (const list of lists)
        list.meters.forEach((m, mi) => {
          kinds.set(m.id, m.kind);
          if (m.electricityMeter !== undefined)
            links.push({
              ...{ id: m.id, kind: m.kind, to: m.electricityMeter },
              path: ['sites', si, 'gateways', gi, ...list.path, mi, 'electricityMeter'],
            });
        });
    }),
  );
  const out: { path: (string | number)[]; message: string }[] = [];
  for (const l of links) {
    if (l.kind !== 'heat')
      out.push({
        path: l.path,
        message: `${l.id} is a ${l.kind} meter: only a heat meter names its unit's electricity meter`,
      });
    else if (kinds.get(l.to) !== 'electricity')
      out.push({
        path: l.path,
        message: kinds.has(l.to)
          ? `electricityMeter "${l.to}" is a ${kinds.get(l.to)} meter, not an electricity meter`
          : `electricityMeter "${l.to}" is not a meter of the campus`,
      });
  }
  return out;
}
