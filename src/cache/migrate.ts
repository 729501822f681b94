// Numbered migrations (migrations/NNNN_name.sql) applied in order, tracked by PRAGMA user_version,
// one version per BEGIN IMMEDIATE transaction so two processes opening the same file at once
// cannot both apply it. A database from a newer build is refused rather than misread.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { projectPath } from '../paths.ts';

export const MIGRATIONS_DIR = projectPath('migrations') + '/';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 0001, 0002, ... without gaps; found ${m.name}`);
  });
  return migrations;
}

export class DatabaseTooNewError extends Error {
  constructor(file: string, found: number, known: number) {
    super(
      `${file} is at schema version ${found}, but this build knows versions up to ${known}: ` +
        'it was written by a newer lbaas-topology. Upgrade, or point LBTOPO_DB at another file.',
    );
  }
}

/** Applies pending migrations; returns the versions applied. */
export function migrate(db: Database.Database, migrations: Migration[] = readMigrations()): number[] {
  const latest = migrations.length;
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > latest) throw new DatabaseTooNewError(db.name, current, latest);
  const applied: number[] = [];
  for (const m of migrations) {
    const step = db.transaction(() => {
      // Re-read inside the write lock: another process may have migrated meanwhile.
      if ((db.pragma('user_version', { simple: true }) as number) >= m.version) return;
      db.exec(m.sql);
      db.pragma(`user_version = ${Number(m.version)}`);
      applied.push(m.version);
    });
    step.immediate();
  }
  return applied;
}
