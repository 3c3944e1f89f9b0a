import { type Command, Option } from 'commander';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadCampus, type LoadedCampus } from '../config/campus.ts';
import { checkField, type MeterCheck } from '../gateway/doctor.ts';
import { silentLogger } from '../gateway/log.ts';

interface DoctorHelpers {
  guarded(fn: () => Promise<void>): Promise<void>;
}

type Lang = 'zh' | 'en';

/** What to do about each failure, in the installer's words. Codes not listed get the generic line. */
const FIXES: Record<string, Record<Lang, string>> = {
  MODBUS_TIMEOUT: {
    en: 'no answer: check the unit id, the RS-485 wiring (A/B, termination), baud rate and parity, and that the meter is powered',
    zh: '无应答：检查表地址（从站号）、RS-485 接线（A/B、终端电阻）、波特率和校验位，以及电表是否上电',
  },
  MODBUS_DISCONNECTED: {
    en: 'cannot reach the bus: check the converter’s address and port, the network, or the serial device path and permissions (dialout group)',
    zh: '无法连接总线：检查串口服务器的地址和端口、网络，或串口设备路径和权限（dialout 组）',
  },
  MODBUS_CRC: {
    en: 'damaged answers: check baud rate, parity and stop bits, cable shielding and termination',
    zh: '应答校验错误：检查波特率、校验位和停止位，以及屏蔽和终端电阻',
  },
  MODBUS_GARBAGE: {
    en: 'answers that are not Modbus: two meters with the same unit id, a wrong protocol or a wrong baud rate',
    zh: '应答不是 Modbus 帧：可能两块表地址相同、协议不对或波特率不对',
  },
  MODBUS_EXCEPTION: {
    en: 'the meter refused the read: the profile does not match this meter model (registers or function code)',
    zh: '电表拒绝读取：配置的型号模板与实际电表不符（寄存器或功能码）',
  },
  MODBUS_BAD_VALUE: {
    en: 'impossible values: the profile’s word order, scale or register type does not match this meter',
    zh: '读数不合理：型号模板的字序、倍率或寄存器类型与电表不符',
  },
  DLT645_TIMEOUT: {
    en: 'no answer: check the 12-digit address on the nameplate, 2400 8E1, and the RS-485 wiring',
    zh: '无应答：检查铭牌上的 12 位表地址、2400 8E1 设置和 RS-485 接线',
  },
  DLT645_DENIED: {
    en: 'the meter refused the data identifier: check the profile against the meter’s model',
    zh: '电表拒绝该数据标识：检查型号模板是否与电表型号一致',
  },
  CJT188_TIMEOUT: {
    en: 'no answer: check the 14-digit address, the meter type code and the M-Bus/RS-485 wiring',
    zh: '无应答：检查 14 位表地址、仪表类型代码和 M-Bus/RS-485 接线',
  },
  NOT_POLLED: {
    en: 'never polled in time: the line is slower than its meters need (see the line budget warning)',
    zh: '未能及时轮询：该线路速度不足以读完所有电表（见线路预算警告）',
  },
};
const GENERIC: Record<Lang, string> = {
  en: 'see the README’s error table for this code',
  zh: '请在 README 的错误代码表中查看该代码',
};

const T = {
  en: {
    title: (name: string) => `campus-energy doctor: ${name}`,
    meters: (ok: number, all: number) => `meters: ${ok} of ${all} answered`,
    ok: (m: MeterCheck) =>
      `  ok    ${m.gateway}/${m.bus}/${m.meter}${m.latencyMs != null ? ` ${Math.round(m.latencyMs)} ms` : ''}`,
    bad: (m: MeterCheck) => `  FAIL  ${m.gateway}/${m.bus}/${m.meter}: ${m.code} (${m.message})`,
    fix: (text: string) => `        fix: ${text}`,
    drift: (m: MeterCheck, s: number) =>
      `  CLOCK ${m.meter}: ${s > 0 ? '+' : ''}${s} s against this machine; set its time (bus timeSync) if the campus owns its clock`,
    cert: (file: string, days: number) =>
      days < 0
        ? `  CERT  ${file}: expired ${-days} days ago: renew it`
        : `  CERT  ${file}: expires in ${days} days${days < 30 ? ': renew it soon' : ''}`,
    disk: (free: number, perDay: number, days: number) =>
      `disk: ${(free / 1e9).toFixed(1)} GB free in the data folder; readings add about ${(perDay / 1e6).toFixed(1)} MB a day: ${days > 3650 ? 'more than ten years' : `about ${Math.floor(days)} days`} left`,
    verdict: (n: number) => (n === 0 ? 'nothing to fix' : `${n} thing(s) to fix`),
  },
  zh: {
    title: (name: string) => `campus-energy 现场诊断：${name}`,
    meters: (ok: number, all: number) => `电表：${all} 块中 ${ok} 块应答`,
    ok: (m: MeterCheck) =>
      `  正常  ${m.gateway}/${m.bus}/${m.meter}${m.latencyMs != null ? ` ${Math.round(m.latencyMs)} 毫秒` : ''}`,
    bad: (m: MeterCheck) => `  故障  ${m.gateway}/${m.bus}/${m.meter}：${m.code}（${m.message}）`,
    fix: (text: string) => `        处理：${text}`,
    drift: (m: MeterCheck, s: number) =>
      `  时钟  ${m.meter}：与本机相差 ${s > 0 ? '+' : ''}${s} 秒；若时钟归校园管理，请开启总线校时（timeSync）`,
    cert: (file: string, days: number) =>
      days < 0
        ? `  证书  ${file}：已过期 ${-days} 天，请更新`
        : `  证书  ${file}：${days} 天后到期${days < 30 ? '，请尽快更新' : ''}`,
    disk: (free: number, perDay: number, days: number) =>
      `磁盘：数据目录剩余 ${(free / 1e9).toFixed(1)} GB；读数每天约增加 ${(perDay / 1e6).toFixed(1)} MB，${days > 3650 ? '可用十年以上' : `约可用 ${Math.floor(days)} 天`}`,
    verdict: (n: number) => (n === 0 ? '无需处理' : `需处理 ${n} 项`),
  },
} as const;

/** Bytes a stored reading takes, about (the SQLite store on the bench's mixed readings). */
const BYTES_PER_READING = 60;
const DRIFT_WARN_MS = 60_000;

/** PEM certificates the campus relies on: the broker's CA, the embedded broker's, OPC UA's own. */
function certificates(campus: LoadedCampus): string[] {
  const base = dirname(campus.file);
  const files = [
    campus.config.mqtt?.caFile,
    campus.config.embeddedBroker.tls?.certFile,
    campus.config.embeddedBroker.tls?.caFile,
  ]
    .filter((f): f is string => !!f)
    .map((f) => resolve(base, f));
  // OPC UA: each gateway's own certificate in its PKI folder.
  if (existsSync(campus.dataDir)) {
    for (const name of readdirSync(campus.dataDir)) {
      const own = join(campus.dataDir, name, 'own', 'certs');
      if (name.endsWith('-pki') && existsSync(own)) {
        for (const c of readdirSync(own)) if (/\.(pem|crt)$/.test(c)) files.push(join(own, c));
      }
    }
  }
  return [...new Set(files)].filter((f) => existsSync(f));
}

export function registerDoctorCommand(program: Command, h: DoctorHelpers): void {
  program
    .command('doctor')
    .description(
      'Check a campus file against the field: every meter read once, clocks, certificates, disk; what to fix',
    )
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .option('-g, --gateway <id>', 'only this gateway’s buses')
    .addOption(new Option('--lang <lang>', 'language of the report').choices(['zh', 'en']).default('en'))
    .action((opts: { config: string; gateway?: string; lang: Lang }) =>
      h.guarded(async () => {
        const campus = loadCampus(opts.config);
        const t = T[opts.lang];
        const lines: string[] = [t.title(campus.config.campus.name)];
        let problems = 0;
        const checks = await checkField(campus, { gateway: opts.gateway, logger: silentLogger() });
        lines.push(t.meters(checks.filter((c) => c.ok).length, checks.length));
        for (const c of checks) {
          if (c.ok) {
            lines.push(t.ok(c));
            if (c.clockDriftMs !== undefined && Math.abs(c.clockDriftMs) > DRIFT_WARN_MS) {
              problems += 1;
              lines.push(t.drift(c, Math.round(c.clockDriftMs / 1000)));
            }
          } else {
            problems += 1;
            lines.push(
              t.bad(c),
              t.fix((FIXES[c.code ?? ''] ?? { en: GENERIC.en, zh: GENERIC.zh })[opts.lang]),
            );
          }
        }
        for (const file of certificates(campus)) {
          const cert = new X509Certificate(readFileSync(file));
          const days = Math.floor((Date.parse(cert.validTo) - Date.now()) / 86_400_000);
          if (days < 30) problems += 1;
          lines.push(t.cert(file, days));
        }
        const dataDir = existsSync(campus.dataDir) ? campus.dataDir : dirname(campus.file);
        const fs = statfsSync(dataDir);
        const free = fs.bavail * fs.bsize;
        const perDay = campus.config.sites
          .flatMap((s) => s.gateways.flatMap((g) => g.buses.flatMap((b) => b.meters)))
          .reduce((n, m) => n + (86_400_000 / m.pollInterval) * BYTES_PER_READING, 0);
        const days = perDay > 0 ? free / perDay : Infinity;
        if (days < 90) problems += 1;
        lines.push(t.disk(free, perDay, days));
        lines.push(t.verdict(problems));
        console.log(lines.join('\n'));
        process.exitCode = problems > 0 ? 1 : 0;
      }),
    );
}
