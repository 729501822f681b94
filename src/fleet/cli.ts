// `lbtopo fleet ...`: serve the fleet API, migrate the fleet database, create host and reader
// roles, print the fleet schema.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { loadConfig, settingOptions } from '../config.ts';
import { projectPath } from '../paths.ts';
import { addRoleSql, RoleNameError } from './roles.ts';

export const FLEET_SCHEMA_FILE = projectPath('schema', 'fleet.graphql');

export const FLEET_USAGE = `usage: lbtopo fleet <command> [options]

  serve                 the fleet GraphQL API over LBTOPO_FLEET_DB (a lbtopo_reader role), on
                        LBTOPO_LISTEN with LBTOPO_TOKEN as for lbtopo serve; also /metrics and
                        /http_sd (Prometheus HTTP service discovery of every host's /metrics)
  migrate [--url URL]   apply the PostgreSQL migrations (migrations/pg) with an admin URL
                        (default LBTOPO_FLEET_DB); additive, so hosts of two versions push side by side
  add-host NAME         print the SQL creating host NAME's login role (member of lbtopo_host:
                        row-level security lets it write only its own rows); NAME is its LBTOPO_HOST
  add-reader NAME       the same for a fleet service's read-only role (member of lbtopo_reader)
      --password PW     give the role a password (else use client certificates or pg_hba rules)
      --apply           run the SQL against --url (default LBTOPO_FLEET_DB, an admin URL)
  schema [--write]      print the fleet SDL (--write: rewrite schema/fleet.graphql)
`;

export async function fleetCommand(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: settingOptions(), strict: true });
      const config = loadConfig(process.env, values as Record<string, string>);
      const { createFleetApp } = await import('./serve.ts');
      const { serve } = await import('../server.ts');
      const app = await createFleetApp(config);
      const server = await serve(app);
      const { address, port } = server.address() as AddressInfo;
      console.error(`lbtopo: fleet serving http://${address.includes(':') ? `[${address}]` : address}:${port}/graphql (${app.cache.hosts.size} hosts)`);
      return -1;
    }
    case 'migrate': {
      const { values } = parseArgs({ args: rest, options: { url: { type: 'string' }, 'up-to': { type: 'string' } }, strict: true });
      const url = values.url ?? process.env.LBTOPO_FLEET_DB;
      if (!url) {
        process.stderr.write('lbtopo fleet migrate: give --url or LBTOPO_FLEET_DB (an admin role)\n');
        return 2;
      }
      const { migrateFleet } = await import('./migrate.ts');
      const upTo = values['up-to'] === undefined ? undefined : Number(values['up-to']);
      if (upTo !== undefined && !Number.isInteger(upTo)) {
        process.stderr.write(`lbtopo fleet migrate: --up-to ${values['up-to']}: expected a version number\n`);
        return 2;
      }
      const applied = await migrateFleet(url, upTo === undefined ? {} : { upTo });
      process.stdout.write(applied.length === 0 ? 'fleet database is up to date\n' : applied.map((m) => `applied ${m}\n`).join(''));
      return 0;
    }
    case 'add-host':
    case 'add-reader': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { password: { type: 'string' }, apply: { type: 'boolean' }, url: { type: 'string' } }, strict: true });
      if (positionals.length !== 1) {
        process.stderr.write(`lbtopo fleet ${command}: give one NAME\n`);
        return 2;
      }
      let sql: string;
      try {
        sql = addRoleSql(positionals[0]!, command === 'add-host' ? 'lbtopo_host' : 'lbtopo_reader', values.password ?? null);
      } catch (err) {
        if (err instanceof RoleNameError) {
          process.stderr.write(`lbtopo fleet ${command}: ${err.message}\n`);
          return 2;
        }
        throw err;
      }
      if (!values.apply) {
        process.stdout.write(`${sql}\n`);
        return 0;
      }
      const url = values.url ?? process.env.LBTOPO_FLEET_DB;
      if (!url) {
        process.stderr.write(`lbtopo fleet ${command} --apply: give --url or LBTOPO_FLEET_DB (an admin role)\n`);
        return 2;
      }
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
      process.stdout.write(`role ${positionals[0]} is a member of ${command === 'add-host' ? 'lbtopo_host' : 'lbtopo_reader'}\n`);
      return 0;
    }
    case 'schema': {
      const { values } = parseArgs({ args: rest, options: { write: { type: 'boolean' } }, strict: true });
      const { printSortedFleetSchema } = await import('./graphql/index.ts');
      const sdl = printSortedFleetSchema();
      if (values.write) writeFileSync(FLEET_SCHEMA_FILE, sdl);
      else process.stdout.write(sdl);
      return 0;
    }
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(FLEET_USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`lbtopo fleet: unknown command ${JSON.stringify(command)}\n\n${FLEET_USAGE}`);
      return 2;
  }
}
