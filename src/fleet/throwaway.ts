// A throwaway PostgreSQL (Debian's postgresql-15) for tests and the bench: initdb as the
// postgres user (initdb refuses root) into a temp dir, trust authentication, listening on
// 127.0.0.1 at a free port with a unix socket dir of its own, fsync off. stop() and start()
// simulate an outage; destroy() stops it and removes the dir.
import { chownSync, mkdtempSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface ThrowawayPostgres {
  port: number;
  dir: string;
  /** postgresql://ROLE@127.0.0.1:PORT/postgres (trust: no password). */
  url(role?: string): string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ThrowawayOptions {
  /** More `-c name=value` server settings. */
  extraConf?: string[];
  /** Replaces pg_hba.conf (default: initdb's, trust for everyone). */
  hba?: string[];
  /** Runs after initdb, before the first start, with the cluster dir (owned by postgres): e.g. to place TLS files. */
  prepare?: (dir: string, owner: { uid: number; gid: number }) => void;
}

export async function startThrowawayPostgres(options: ThrowawayOptions = {}): Promise<ThrowawayPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-pg-'));
  chmodSync(dir, 0o700);
  const pgUser = await run('id', ['-u', 'postgres']).then((r) => Number(r.stdout.trim()));
  const pgGroup = await run('id', ['-g', 'postgres']).then((r) => Number(r.stdout.trim()));
  chownSync(dir, pgUser, pgGroup);
  const data = join(dir, 'data');
  const asPostgres = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { cwd: dir });
  await asPostgres('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  if (options.hba) {
    writeFileSync(join(data, 'pg_hba.conf'), `${options.hba.join('\n')}\n`);
    chownSync(join(data, 'pg_hba.conf'), pgUser, pgGroup);
  }
  options.prepare?.(dir, { uid: pgUser, gid: pgGroup });
  const port = await freePort();
  const opts = ['-c listen_addresses=127.0.0.1', `-c port=${port}`, `-c unix_socket_directories=${dir}`, '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', ...(options.extraConf ?? [])].join(' ');
  const start = async () => {
    await asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
  };
  const stop = async () => {
    await asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  };
  await start();
  let destroyed = false;
  return {
    port,
    dir,
    url: (role = 'postgres') => `postgresql://${encodeURIComponent(role)}@127.0.0.1:${port}/postgres`,
    stop,
    start,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
