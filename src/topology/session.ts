// One request's view of the host. Each probe runs at most once per (probe, scope) in a request
// (a DataLoader per request memoises it), concurrent requests share runs through the ProbeRunner,
// and every look is written to the request's trace, which the response's extensions show.
import DataLoader from 'dataloader';
import type { Config } from '../config.ts';
import type { Observed, ProbeRunner, ProbeTraceEntry, ProbeDefinition } from '../cache/runner.ts';
import type { HostProbes } from './probes.ts';

type ProbeKey = { probe: keyof HostProbes; scope: string };
type Value<K extends keyof HostProbes> = HostProbes[K] extends ProbeDefinition<infer T> ? T : never;

export class TopologySession {
  readonly trace: ProbeTraceEntry[] = [];
  /** Freshness asked for by the query (`maxAge`); undefined = each probe's TTL. */
  maxAgeMs: number | undefined;
  private readonly loader: DataLoader<ProbeKey, Observed<unknown>, string>;

  readonly runner: ProbeRunner;
  readonly probes: HostProbes;
  readonly config: Config;

  constructor(runner: ProbeRunner, probes: HostProbes, config: Config) {
    this.runner = runner;
    this.probes = probes;
    this.config = config;
    this.loader = new DataLoader(
      (keys) => Promise.all(keys.map((k) => this.runner.observe(this.probes[k.probe] as ProbeDefinition<unknown>, k.scope, { maxAgeMs: this.maxAgeMs }, this.trace).catch((e: Error) => e))),
      { cacheKeyFn: (k) => `${k.probe}\u0000${k.scope}`, batch: false },
    );
  }

  /** Narrows freshness for the rest of the request: the strictest maxAge wins. */
  requireFreshness(maxAgeMs: number | null | undefined): void {
    if (maxAgeMs === null || maxAgeMs === undefined) return;
    this.maxAgeMs = this.maxAgeMs === undefined ? maxAgeMs : Math.min(this.maxAgeMs, maxAgeMs);
  }

  observe<K extends keyof HostProbes>(probe: K, scope = ''): Promise<Observed<Value<K>>> {
    return this.loader.load({ probe, scope }) as Promise<Observed<Value<K>>>;
  }

  deployments() { return this.observe('lbaas'); }
  namespaces() { return this.observe('netns'); }
  processes() { return this.observe('proc'); }
  network(namespace: string) { return this.observe('ip', namespace); }
  ovs() { return this.observe('ovs', this.config.ovsdb); }
  stats(socketPath: string) { return this.observe('stats', socketPath); }
  amphora() { return this.observe('amphora'); }
  rules(namespace: string) { return this.observe('rule', namespace); }
}
