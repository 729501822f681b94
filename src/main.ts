// The CLI: lbtopo serve | query | check | schema | lab | demo.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, SETTINGS, PROBE_NAMES, settingOptions } from './config.ts';
import { projectPath } from './paths.ts';

const USAGE = `usage: lbtopo <command> [options]

  serve               serve the GraphQL API (GraphiQL at /graphql)
  query FILE|-        run a GraphQL document (or --query '...'), print JSON
  check               Nagios/Icinga plugin over the host's problems
  schema [--write]    print the SDL (--write: rewrite schema/schema.graphql)
  lab up|down         build or remove a real LBaaS lab on this machine (root)
  demo                build a lab with faults and serve it

settings (flags override env):
${SETTINGS.map((s) => `  --${s.flag.padEnd(20)} ${s.env.padEnd(27)} ${s.help} (default ${s.default || 'none'})`).join('\n')}
  --ttl-<probe>        LBTOPO_TTL_<PROBE>          freshness of one probe (${PROBE_NAMES.join(', ')})
`;


export const SCHEMA_FILE = projectPath('schema', 'schema.graphql');

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: settingOptions(), strict: true });
      const config = loadConfig(process.env, values as Record<string, string>);
      const { createApp, serve } = await import('./server.ts');
      const app = createApp(config, { background: true });
      const server = await serve(app);
      const { address, port } = server.address() as AddressInfo;
      console.error(`lbtopo: serving http://${address.includes(':') ? `[${address}]` : address}:${port}/graphql`);
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
      return labCommand(rest);
    }
    case 'demo': {
      const { demoCommand } = await import('./demo.ts');
      return demoCommand(rest);
    }
    case 'query': {
      const { queryCommand } = await import('./cli/query.ts');
      return queryCommand(rest);
    }
    case 'check': {
      const { checkCommand } = await import('./cli/check.ts');
      return checkCommand(rest);
    }
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
