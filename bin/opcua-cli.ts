import type { Command } from 'commander';
import type { LoadedCampus } from '../config/campus.ts';
import type { CertInfo } from '../adapters/opcua/pki.ts';
import { gatewayPkiDir } from '../gateway/pki-dir.ts';

// node-opcua is large and prints a notice when loaded: only these commands load it, when run.
const pki = () => import('../adapters/opcua/pki.ts');

export interface OpcuaCliHelpers {
  loadCampus: (file: string) => LoadedCampus;
  /** Runs an action and reports its error the way the rest of the CLI does. */
  guarded: (fn: () => Promise<void>) => Promise<void>;
  /** Where output goes (default console.log); tests capture it. */
  print?: (line: string) => void;
}

interface GatewayOpts {
  config: string;
  gateway: string;
}

function describeCert(c: CertInfo): string[] {
  return [
    `  ${c.thumbprint}  ${c.subject}`,
    `      valid ${c.notBefore.toISOString()} → ${c.notAfter.toISOString()}` +
      (c.notAfter.getTime() < Date.now() ? '  (EXPIRED)' : ''),
    ...(c.applicationUri ? [`      applicationUri ${c.applicationUri}`] : []),
  ];
}

/** `campus-energy opcua certs|trust|reject`: the gateway's OPC UA trust list. */
export function registerOpcuaCommands(program: Command, helpers: OpcuaCliHelpers): Command {
  const print = helpers.print ?? ((line: string) => console.log(line));
  const pkiOf = (opts: GatewayOpts) => gatewayPkiDir(helpers.loadCampus(opts.config), opts.gateway);
  const opcua = program
    .command('opcua')
    .description("OPC UA: the gateway's trusted and rejected server certificates");

  opcua
    .command('certs')
    .description('List trusted and rejected server certificates of a gateway')
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .requiredOption('-g, --gateway <id>', 'gateway id in the campus file')
    .action((opts: GatewayOpts) =>
      helpers.guarded(async () => {
        const dir = pkiOf(opts);
        const { trusted, rejected, own } = (await pki()).listCertificates(dir);
        print(`PKI ${dir}`);
        if (own) [`own certificate:`, ...describeCert(own)].forEach((l) => print(l));
        print(`trusted (${trusted.length}):`);
        for (const c of trusted) describeCert(c).forEach((l) => print(l));
        print(`rejected (${rejected.length}):`);
        for (const c of rejected) describeCert(c).forEach((l) => print(l));
        if (rejected.length > 0) {
          print(
            `trust one with: campus-energy opcua trust --config ${opts.config} --gateway ${opts.gateway} <thumbprint>`,
          );
        }
      }),
    );

  opcua
    .command('trust')
    .description(
      'Trust a server certificate: a thumbprint (or unique prefix) from rejected, or a PEM/DER file',
    )
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .requiredOption('-g, --gateway <id>', 'gateway id in the campus file')
    .argument('<thumbprint|file>', 'thumbprint (prefix) of a rejected certificate, or a certificate file')
    .action((what: string, opts: GatewayOpts) =>
      helpers.guarded(async () => {
        const c = await (await pki()).trustCertificate(pkiOf(opts), what);
        print(`trusted ${c.thumbprint} (${c.subject}); the gateway uses it on its next connection attempt`);
      }),
    );

  opcua
    .command('reject')
    .description('Stop trusting a server certificate (moves it to rejected)')
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .requiredOption('-g, --gateway <id>', 'gateway id in the campus file')
    .argument('<thumbprint>', 'thumbprint (or unique prefix) of a trusted certificate')
    .action((what: string, opts: GatewayOpts) =>
      helpers.guarded(async () => {
        const c = await (await pki()).rejectCertificate(pkiOf(opts), what);
        print(`rejected ${c.thumbprint} (${c.subject}); sessions already open stay until they end`);
      }),
    );
  return opcua;
}
