// The CLI: lbtopo serve | query | check | pools | problems | trace | schema | lab | demo.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, SETTINGS, PROBE_NAMES, settingOptions } from './config.ts';
import { projectPath } from './paths.ts';
import { packageVersion } from './version.ts';

const USAGE = `usage: lbtopo <command> [options]

  serve               serve the GraphQL API (GraphiQL at /graphql)
  pools               the pools, one row each (--missing, --problem CODE; -f table|json|yaml|value|csv)
  problems            what is wrong on this host, worst first (--severity S)
  trace POOL|VIP|PORT the manual trace of one pool as a tree (-f dot|mermaid for a picture)
  query FILE|-        run a GraphQL document (or --query '...'), print JSON
  check               Nagios/Icinga plugin over the host's problems
  schema [--write]    print the SDL (--write: rewrite schema/schema.graphql)
  lab up|down         build or remove a real LBaaS lab on this machine (root)
  demo                build a lab with faults and serve it
  fleet serve|migrate|add-host|add-reader
                      the fleet API over PostgreSQL, its migrations and roles (lbtopo fleet --help)

\`lbtopo COMMAND --help\` says more; \`lbtopo --version\` prints the version.

settings (flags override env):
${SETTINGS.map((s) => `  --${s.flag.padEnd(20)} ${s.env.padEnd(27)} ${s.help} (default ${s.default || 'none'})`).join('\n')}
  --ttl-<probe>        LBTOPO_TTL_<PROBE>          freshness of one probe (${PROBE_NAMES.join(', ')})
`;


export const SCHEMA_FILE = projectPath('schema', 'schema.graphql');

const SERVE_USAGE = `usage: lbtopo serve [settings]

Serves the GraphQL API: GraphiQL at / and /graphql (in a browser, offline), GraphQL over POST
/graphql, /health (liveness), /ready (the SQLite cache answers), /metrics (Prometheus).
Logs one line per request on stderr (LBTOPO_LOG_FORMAT=json|text, LBTOPO_LOG_LEVEL).

settings (flags override env; see lbtopo --help for the full list):
${SETTINGS.map((s) => `  --${s.flag.padEnd(20)} ${s.env}`).join('\n')}
`;

const SCHEMA_USAGE = `usage: lbtopo schema [--write]

Prints the GraphQL schema (SDL, sorted). --write rewrites schema/schema.graphql instead.
`;

const DEMO_USAGE = `usage: lbtopo demo [--listen HOST:PORT]

Builds a real lab on this machine (root: OVS in user space, qlbaas namespaces, haproxy, members)
with faults beside healthy pools, and serves the API over it. Ctrl-C stops and removes the lab.
`;


/** -h/--help anywhere before a lone "--". */
const wantsHelp = (args: string[]) => {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '-h' || a === '--help');
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const usages: Record<string, string> = { serve: SERVE_USAGE, schema: SCHEMA_USAGE, demo: DEMO_USAGE };
  if (command !== undefined && usages[command] && wantsHelp(rest)) {
    process.stdout.write(usages[command]);
    return 0;
  }
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: settingOptions(), strict: true });
      const config = loadConfig(process.env, values as Record<string, string>);
      const { createApp, serve } = await import('./server.ts');
      const app = createApp(config, { background: true });
      const server = await serve(app);
      const { address, port } = server.address() as AddressInfo;
      const base = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
      console.error(`lbtopo: serving ${base}/graphql`);
      if (config.fleetDb) {
        const { FleetPusher } = await import('./fleet/push.ts');
        new FleetPusher({ config, store: app.store, runner: app.runner, newSession: app.newSession, scrapeUrl: config.fleetScrapeUrl ?? `${base}/metrics` }).start();
        console.error(`lbtopo: pushing facts to the fleet database as host ${config.host} every ${config.fleetIntervalMs / 1000}s`);
      }
      return -1; // keep running
    }
    case 'schema': {
      const { values } = parseArgs({ args: rest, options: { write: { type: 'boolean' } }, strict: true });
      const { printSortedSchema } = await import('./graphql/index.ts');
      const sdl = printSortedSchema();
      if (values.write) writeFileSync(SCHEMA_FILE, sdl);
      else process.stdout.write(sdl);
      return 0;
    }
    case 'lab': {
      const { labCommand } = await import('./lab/cli.ts');
      // `lab up --help`, `lab down -h`: the lab's usage covers both.
      return labCommand(wantsHelp(rest) ? ['help'] : rest);
    }
    case 'demo': {
      const { demoCommand } = await import('./demo.ts');
      return demoCommand(rest);
    }
    case 'query': {
      const { queryCommand } = await import('./cli/query.ts');
      return queryCommand(rest);
    }
    case 'fleet': {
      const { fleetCommand } = await import('./fleet/cli.ts');
      return fleetCommand(rest);
    }
    case 'check': {
      const { checkCommand } = await import('./cli/check.ts');
      return checkCommand(rest);
    }
    case 'pools': {
      const { poolsCommand } = await import('./cli/lists.ts');
      return poolsCommand(rest);
    }
    case 'problems': {
      const { problemsCommand } = await import('./cli/lists.ts');
      return problemsCommand(rest);
    }
    case 'trace': {
      const { traceCommand } = await import('./cli/trace.ts');
      return traceCommand(rest);
    }
    case '-V':
    case '--version':
    case 'version':
      process.stdout.write(`lbtopo ${packageVersion()}\n`);
      return 0;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`lbtopo: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`lbtopo: ${(err as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`lbtopo: ${(err as Error)?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
