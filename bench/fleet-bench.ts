// Fleet benchmark against a throwaway PostgreSQL (Debian postgresql-15, fsync off): 500 simulated
// hosts x 20 pools push through lbtopo.push() (the statement the real pusher sends, as each
// host's own role, so row-level security is on the path), then the fleet service answers its
// questions from the LISTEN/NOTIFY-fed cache. Every figure is printed beside an anchor measured
// in the same run: a bare `SELECT 1` round trip, and a `{ __typename }` GraphQL request.
// Prints figures; asserts nothing. Usage: node bench/fleet-bench.ts [--hosts 500 --pools 20 --writers 10]
import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';
import { randomUUID, createHash } from 'node:crypto';
import pg from 'pg';
import { startThrowawayPostgres } from '../src/fleet/throwaway.ts';
import { migrateFleet } from '../src/fleet/migrate.ts';
import { addRoleSql } from '../src/fleet/roles.ts';
import { createFleetApp } from '../src/fleet/serve.ts';
import { loadConfig } from '../src/config.ts';
import type { PushPayload } from '../src/fleet/push.ts';

const { values } = parseArgs({ options: { hosts: { type: 'string', default: '500' }, pools: { type: 'string', default: '20' }, writers: { type: 'string', default: '10' }, rounds: { type: 'string', default: '4' } } });
const HOSTS = Number(values.hosts);
const POOLS = Number(values.pools);
const WRITERS = Number(values.writers);
const ROUNDS = Number(values.rounds);

const percentile = (list: number[], p: number) => [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor(list.length * p))]!;
const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

const hostName = (i: number) => `bench-${String(i).padStart(4, '0')}`;
const poolIds = Array.from({ length: HOSTS }, () => Array.from({ length: POOLS }, () => randomUUID()));

/** Host i's push `seq`: pools (one in ten hosts has a pool without haproxy), its problems, one changed lbaas row. */
function payload(i: number, seq: number, startedAt: number): PushPayload {
  const ids = poolIds[i]!;
  const missing = i % 10 === 0 ? new Set([ids[seq % POOLS]!]) : new Set<string>();
  const pools = ids.map((id, k) => ({
    id, layout: 'v1' as const, loadBalancerId: null, namespace: `qlbaas-${id}`, namespacePresent: true,
    haproxy: missing.has(id) ? ('MISSING' as const) : ('RUNNING' as const), haproxyPid: missing.has(id) ? null : 1000 + k,
    vipAddress: `10.${i >> 8}.${i & 255}.${k + 10}`, vipPort: 80, membersTotal: 3, membersUp: 3,
  }));
  const problems = [...missing].map((id) => ({
    key: `HAPROXY_MISSING:${id}`, code: 'HAPROXY_MISSING' as const, severity: 'CRITICAL' as const, message: `Pool ${id}: no haproxy runs its config`,
    poolId: id, namespace: `qlbaas-${id}`, pid: null, ovsPort: null, interfaceName: null, memberId: null, file: null, probe: null,
  }));
  const lbaas = ids.map((id) => ({ layout: 'v1', id, namespace: `qlbaas-${id}`, configPath: `/var/lib/neutron/lbaas/${id}/conf`, pids: missing.has(id) ? [] : [seq] }));
  const at = startedAt + seq * 1000;
  return {
    format: 2, host: hostName(i), outboxId: `bench-${i}`, kind: 'NETWORK_NODE', version: '0.1.0', startedAt, intervalMs: 10_000,
    scrapeUrl: `http://10.0.${i >> 8}.${i & 255}:4000/metrics`, seq, observedAt: at, pools, problems,
    observations: [{ probe: 'lbaas', scope: '', firstSeen: at, lastSeen: at, hash: createHash('sha256').update(JSON.stringify(lbaas)).digest('hex'), payload: lbaas }],
  };
}

const db = await startThrowawayPostgres({ extraConf: ['-c max_connections=200'] });
try {
  await migrateFleet(db.url());
  const admin = new pg.Client(db.url());
  await admin.connect();
  for (let i = 0; i < HOSTS; i++) await admin.query(addRoleSql(hostName(i), 'lbtopo_host', null));
  await admin.query(addRoleSql('bench-reader', 'lbtopo_reader', null));
  await admin.end();

  // Writers: each a connection that becomes the host's role (SET ROLE) for its push, as a
  // pgbouncer-pooled fleet would; RLS and the push function run exactly as for a host login.
  const writers = await Promise.all(Array.from({ length: WRITERS }, async () => {
    const c = new pg.Client(db.url());
    await c.connect();
    return c;
  }));
  const anchorClient = writers[0]!;
  const selectOne: number[] = [];
  for (let k = 0; k < 300; k++) {
    const t = performance.now();
    await anchorClient.query('SELECT 1');
    selectOne.push(performance.now() - t);
  }
  const anchor = percentile(selectOne, 0.5);

  const startedAt = Date.now() - 3_600_000;
  const pushLatencies: number[] = [];
  const roundRates: number[] = [];
  const push = async (c: pg.Client, i: number, seq: number) => {
    const body = JSON.stringify(payload(i, seq, startedAt));
    const t = performance.now();
    await c.query(`SET ROLE "${hostName(i)}"`);
    const r = await c.query<{ r: string }>('SELECT lbtopo.push($1::jsonb) AS r', [body]);
    await c.query('RESET ROLE');
    pushLatencies.push(performance.now() - t);
    if (r.rows[0]?.r !== 'applied') throw new Error(`push ${hostName(i)} seq ${seq}: ${r.rows[0]?.r}`);
  };
  for (let round = 1; round <= ROUNDS; round++) {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(writers.map(async (c) => {
      while (next < HOSTS) await push(c, next++, round);
    }));
    roundRates.push(HOSTS / ((performance.now() - t0) / 1000));
  }

  // Duplicate replays cost: the same seq again (a lost acknowledgement).
  const dupTimes: number[] = [];
  for (let i = 0; i < 100; i++) {
    const body = JSON.stringify(payload(i, ROUNDS, startedAt));
    const t = performance.now();
    await anchorClient.query(`SET ROLE "${hostName(i)}"`);
    const r = await anchorClient.query<{ r: string }>('SELECT lbtopo.push($1::jsonb) AS r', [body]);
    await anchorClient.query('RESET ROLE');
    dupTimes.push(performance.now() - t);
    if (r.rows[0]?.r !== 'duplicate') throw new Error('expected a duplicate');
  }

  // The fleet service: reads everything once, then answers from memory.
  const t0 = performance.now();
  const fleet = await createFleetApp(loadConfig({ LBTOPO_FLEET_DB: db.url('bench-reader') }), { log: () => {} });
  const loadMs = performance.now() - t0;
  const gql = async (query: string) => {
    const r = await fleet.yoga.fetch('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    const body = (await r.json()) as { data?: Record<string, unknown[]>; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data!;
  };
  // Interleaved rounds (after 20 warm-up rounds): drift on a shared machine weighs on every query alike.
  const queries: Array<[string, string, ((d: Record<string, unknown[]>) => void)?]> = [
    ['typename', '{ __typename }'],
    ['missing', '{ pools(where: { haproxy: MISSING }) { id host { name } observedAt } }', (d) => {
      if (d.pools!.length !== Math.ceil(HOSTS / 10)) throw new Error(`MISSING: ${d.pools!.length} pools`);
    }],
    ['holder', `{ pool(id: "${poolIds[HOSTS - 1]![7]}") { host { name } } }`],
    ['worst', '{ problems(severity: CRITICAL) { code host { name } poolId } }'],
    ['stale', '{ hosts(stale: true) { name lastPush } }'],
  ];
  const lists = new Map<string, number[]>(queries.map(([k]) => [k, []]));
  for (let k = -20; k < 300; k++) {
    for (const [key, query, check] of queries) {
      const t = performance.now();
      const d = await gql(query);
      if (k >= 0) lists.get(key)!.push(performance.now() - t);
      if (k === 0) check?.(d);
    }
  }
  const p50 = (key: string) => percentile(lists.get(key)!, 0.5);
  const [typename, missing, holder, worst, stale] = ['typename', 'missing', 'holder', 'worst', 'stale'].map(p50) as [number, number, number, number, number];

  // The same MISSING question straight from SQL (no cache), as the reader role.
  const reader = new pg.Client(db.url('bench-reader'));
  await reader.connect();
  const sqlMissing: number[] = [];
  for (let k = 0; k < 300; k++) {
    const t = performance.now();
    await reader.query("SELECT host, pool_id FROM lbtopo.pool_fact WHERE haproxy = 'MISSING'");
    sqlMissing.push(performance.now() - t);
  }

  // Freshness: from a push's commit to the fleet cache showing it (LISTEN/NOTIFY, then a reload of that host).
  const fresh: number[] = [];
  for (let k = 0; k < 50; k++) {
    const i = (k * 37) % HOSTS;
    const seq = ROUNDS + 1 + k;
    const p = payload(i, seq, startedAt);
    p.pools![0]!.membersUp = k % 3;
    await anchorClient.query(`SET ROLE "${hostName(i)}"`);
    const t = performance.now();
    await anchorClient.query('SELECT lbtopo.push($1::jsonb)', [JSON.stringify(p)]);
    await anchorClient.query('RESET ROLE');
    while (fleet.cache.poolsOf(hostName(i)).find((x) => x.id === p.pools![0]!.id)?.membersUp !== k % 3) await new Promise((r) => setImmediate(r));
    fresh.push(performance.now() - t);
  }
  const counts = (await reader.query('SELECT (SELECT count(*) FROM lbtopo.pool_fact) AS pools, (SELECT count(*) FROM lbtopo.observation) AS observations')).rows[0];
  await reader.end();
  await fleet.stop();
  for (const c of writers) await c.end();

  const rate = percentile(roundRates, 0.5);
  console.log(`fleet bench: ${HOSTS} hosts x ${POOLS} pools, ${WRITERS} concurrent writers, ${ROUNDS} push rounds; ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}; node ${process.version}`);
  console.log(`  fleet database: ${counts.pools} pool facts, ${counts.observations} observation rows`);
  console.log(`anchors`);
  console.log(`  SELECT 1 round trip, p50                 ${fmt(anchor)}`);
  console.log(`  { __typename } through the fleet, p50    ${fmt(typename)}`);
  console.log(`push (one lbtopo.push() statement, one transaction; SET ROLE + RESET ROLE around it)`);
  console.log(`  throughput, median of ${ROUNDS} rounds          ${rate.toFixed(0)} pushes/s (target >= 100)   rounds: ${roundRates.map((r) => r.toFixed(0)).join(', ')}`);
  console.log(`  latency p50 / p95                        ${fmt(percentile(pushLatencies, 0.5))} / ${fmt(percentile(pushLatencies, 0.95))}  = ${(percentile(pushLatencies, 0.5) / anchor).toFixed(1)} x SELECT 1`);
  console.log(`  duplicate replay p50                     ${fmt(percentile(dupTimes, 0.5))}  = ${(percentile(dupTimes, 0.5) / anchor).toFixed(1)} x SELECT 1`);
  console.log(`fleet reads (GraphQL over the LISTEN/NOTIFY-fed cache; initial load ${loadMs.toFixed(0)} ms)`);
  console.log(`  haproxy MISSING on every host, p50       ${fmt(missing)} (target <= 10 ms)  = ${(missing / typename).toFixed(2)} x { __typename }, ${(missing / anchor).toFixed(1)} x SELECT 1`);
  console.log(`  which host holds pool X, p50             ${fmt(holder)}  = ${(holder / typename).toFixed(2)} x { __typename }`);
  console.log(`  CRITICAL problems worst first, p50       ${fmt(worst)}  = ${(worst / typename).toFixed(2)} x { __typename }`);
  console.log(`  stale hosts, p50                         ${fmt(stale)}  = ${(stale / typename).toFixed(2)} x { __typename }`);
  console.log(`  the MISSING SQL alone (no cache), p50    ${fmt(percentile(sqlMissing, 0.5))}  = ${(percentile(sqlMissing, 0.5) / anchor).toFixed(1)} x SELECT 1`);
  console.log(`  push commit -> fleet cache shows it, p50 ${fmt(percentile(fresh, 0.5))}  p95 ${fmt(percentile(fresh, 0.95))}`);
} finally {
  await db.destroy();
}
