// `npm run demo`: builds a real lab with faults beside healthy pools and serves the API over it,
// so GraphiQL shows a real node with something to find. Ctrl-C serves no more and removes the lab.
import { parseArgs } from 'node:util';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labUp } from './lab/lab.ts';
import type { PoolFault } from './lab/lab.ts';
import { loadConfig } from './config.ts';
import { createApp } from './server.ts';
import { createServer } from 'node:http';

/** The faults the demo shows, one pool each; the first two pools and the v2 load balancer stay healthy. */
const DEMO_FAULTS: PoolFault[] = ['kill-haproxy', 'dead-vlan', 'delete-namespace', 'no-default-route', 'members-down', 'config-newer'];

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { listen: { type: 'string' } }, strict: true });
  const config = loadConfig({ ...process.env, LBTOPO_DB: process.env.LBTOPO_DB ?? join(mkdtempSync(join(tmpdir(), 'lbtopo-demo-')), 'topology.sqlite') }, { listen: values.listen });
  console.error('lbtopo demo: building a lab (OVS in user space, namespaces, haproxy, members)...');
  const lab = await labUp({ v1Pools: DEMO_FAULTS.length + 2, v2LoadBalancers: 1 });
  const v1 = lab.pools.filter((p) => p.layout === 'v1');
  for (const [i, fault] of DEMO_FAULTS.entries()) await lab.injectFault(v1[i + 2]!.poolId, fault);
  await lab.addOrphanNamespace();
  const app = createApp({ ...config, ...labSettings(lab.env()) });
  const server = createServer(app.yoga);
  await new Promise<void>((resolve) => server.listen(config.listen.port, config.listen.host, resolve));
  console.error(`lbtopo demo: serving http://${config.listen.host}:${config.listen.port}/graphql over lab ${lab.dir}`);
  for (const p of lab.pools) console.error(`  pool ${p.poolId} ${p.layout} ${p.faults.join(',') || 'healthy'}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.error('lbtopo demo: stopping and removing the lab');
  server.close();
  app.close();
  await lab.down();
  return 0;
}

function labSettings(env: Record<string, string>) {
  const c = loadConfig(env);
  return { netnsDir: c.netnsDir, lbaasDir: c.lbaasDir, octaviaDir: c.octaviaDir, ovsdb: c.ovsdb };
}
