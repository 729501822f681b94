// PostgreSQL migrations of the fleet database (migrations/pg/NNNN_name.sql), applied in order by
// `lbtopo fleet migrate` with an admin URL, each in its own transaction under an advisory lock
// (two migrators at once wait for each other), tracked in public.lbtopo_fleet_migration.
// Additive only: a database migrated by a newer build still takes pushes from older hosts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { projectPath } from '../paths.ts';

export const PG_MIGRATIONS_DIR = projectPath('migrations', 'pg');
/** Any 64-bit number: the advisory lock taken while migrating. */
const MIGRATION_LOCK = 7_305_001;

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

export function readPgMigrations(dir = PG_MIGRATIONS_DIR): PgMigration[] {
  const list = readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`fleet migrations must be numbered 0001, 0002, ... without gaps; found ${m.name}`);
  });
  return list;
}

/** The schema version this build reads (fleet serve) and writes (push). */
export const FLEET_SCHEMA_VERSION = readPgMigrations().length;

/** Applies pending migrations up to `upTo` (default all); returns the names applied. */
export async function migrateFleet(url: string, options: { upTo?: number; migrations?: PgMigration[] } = {}): Promise<string[]> {
  const migrations = options.migrations ?? readPgMigrations();
  const upTo = options.upTo ?? migrations.length;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('CREATE TABLE IF NOT EXISTS public.lbtopo_fleet_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    // Hosts and readers check the version they talk to.
    await client.query('GRANT SELECT ON public.lbtopo_fleet_migration TO PUBLIC');
    for (const m of migrations.filter((x) => x.version <= upTo)) {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        const done = await client.query('SELECT 1 FROM public.lbtopo_fleet_migration WHERE version = $1', [m.version]);
        if (done.rowCount === 0) {
          await client.query(m.sql);
          await client.query('INSERT INTO public.lbtopo_fleet_migration (version, name) VALUES ($1, $2)', [m.version, m.name]);
          applied.push(m.name);
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`fleet migration ${m.name} failed (nothing of it was applied): ${(err as Error).message}`);
      }
    }
  } finally {
    await client.end();
  }
  return applied;
}

/** The highest applied version (0: none), as any role that can read the tracking table. */
export async function fleetSchemaVersion(client: pg.ClientBase | pg.Pool): Promise<number> {
  const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM public.lbtopo_fleet_migration').catch(() => ({ rows: [{ v: 0 }] }));
  return r.rows[0]?.v ?? 0;
}
