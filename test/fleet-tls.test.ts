// TLS and client certificates: a host pushes with sslmode=verify-full and a client certificate
// whose CN is its role (pg_hba `cert`: no password exists), and without the certificate the push
// is refused, kept in the outbox and says why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startThrowawayPostgres } from '../src/fleet/throwaway.ts';
import type { ThrowawayPostgres } from '../src/fleet/throwaway.ts';
import { migrateFleet } from '../src/fleet/migrate.ts';
import { addRoles, inProcessHost, writeV1Pool } from './fleet-support.ts';

let db: ThrowawayPostgres;
let pki: string;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: pki, stdio: 'ignore' });
}

before(async () => {
  pki = mkdtempSync(join(tmpdir(), 'lbtopo-pki-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=lbtopo test CA', '-keyout', 'ca.key', '-out', 'ca.crt']);
  writeFileSync(join(pki, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr']);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.crt']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=tls-host', '-keyout', 'client.key', '-out', 'client.csr']);
  openssl(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'client.crt']);
  db = await startThrowawayPostgres({
    hba: ['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'hostssl all tls-host 127.0.0.1/32 cert', 'host all all 127.0.0.1/32 reject'],
    prepare: (dir, owner) => {
      for (const f of ['server.crt', 'server.key', 'ca.crt']) {
        // Relative file settings are read from the data directory.
        const to = join(dir, 'data', f);
        copyFileSync(join(pki, f), to);
        chownSync(to, owner.uid, owner.gid);
        chmodSync(to, 0o600);
      }
    },
    extraConf: ['-c ssl=on', '-c ssl_cert_file=server.crt', '-c ssl_key_file=server.key', '-c ssl_ca_file=ca.crt'],
  });
  await migrateFleet(db.url());
  await addRoles(db.url(), ['tls-host'], []);
});

after(async () => {
  await db?.destroy();
  if (pki) rmSync(pki, { recursive: true, force: true });
});

const tlsUrl = (port: number, withCert: boolean) =>
  `postgresql://tls-host@127.0.0.1:${port}/postgres?sslmode=verify-full&sslrootcert=${join(pki, 'ca.crt')}` + (withCert ? `&sslcert=${join(pki, 'client.crt')}&sslkey=${join(pki, 'client.key')}` : '');

test('a host pushes over TLS with a client certificate (no password), verified against the CA', async () => {
  const host = inProcessHost('tls-host', tlsUrl(db.port, true));
  try {
    writeV1Pool(host.lbaasDir);
    await host.pusher.cycle();
    assert.equal(host.pusher.status().pending, 0, host.pusher.status().lastError ?? '');
    const admin = new pg.Client(db.url());
    await admin.connect();
    try {
      const r = await admin.query("SELECT count(*)::int AS n FROM lbtopo.pool_fact WHERE host = 'tls-host'");
      assert.equal(r.rows[0].n, 1);
    } finally {
      await admin.end();
    }
  } finally {
    await host.pusher.stop();
    host.app.close();
  }
});

test('without its certificate the push is refused, stays in the outbox, and the error says why', async () => {
  const host = inProcessHost('tls-host', tlsUrl(db.port, false));
  try {
    writeV1Pool(host.lbaasDir);
    await host.pusher.cycle();
    const status = host.pusher.status();
    assert.equal(status.pending, 1);
    assert.match(status.lastError ?? '', /certificate|pg_hba/i, status.lastError ?? '');
  } finally {
    await host.pusher.stop();
    host.app.close();
  }
});
