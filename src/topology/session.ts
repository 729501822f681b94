// One request's view of the host. Each probe runs at most once per (probe, scope) in a request
// (a DataLoader per request memoises it), concurrent requests share runs through the ProbeRunner,
// and every look is written to the request's trace, which the response's extensions show.
import DataLoader from 'dataloader';
import { isValidNamespaceName } from '../host/names.ts';
import { ProbeFailedError } from '../cache/runner.ts';
import type { Config } from '../config.ts';
import type { LookRecord, Observed, ProbeRunner, ProbeTraceEntry, ProbeDefinition, WaitBudget } from '../cache/runner.ts';
import type { HostProbes } from './probes.ts';
import type { CloudListProbe, CloudProbes } from './cloud-probes.ts';
import { statusScope } from './cloud-probes.ts';

type ProbeKey = { probe: keyof HostProbes; scope: string };
type Value<K extends keyof HostProbes> = HostProbes[K] extends ProbeDefinition<infer T> ? T : never;

export class TopologySession {
  readonly trace: ProbeTraceEntry[] = [];
  /** Every look through the runner, for the answer cache (src/cache/answers.ts). */
  readonly looks: LookRecord[] = [];
  /**
   * False once the request read the host or the store other than through the runner (a cached
   * network peeked at, a namespace file found gone): its answer then cannot be reused.
   */
  reusable = true;
  /** Set when the answer was a reused one (extensions.probeSummary says so). */
  answerReused = false;
  /** Whether the host watchers hear the netns dir (then network() need not stat each namespace file). */
  namespaceFilesWatched: () => boolean = () => false;
  /** Freshness asked for by the query (`maxAge`); undefined = each probe's TTL. */
  maxAgeMs: number | undefined;
  /** Refresh ahead by this long (the background refresher's sessions); 0 for a request. */
  aheadMs = 0;
  /** How long the request may wait for probes (its deadline, its client): set by src/graphql/limits.ts. */
  budget: WaitBudget | undefined;
  private readonly loader: DataLoader<ProbeKey, Observed<unknown>, string>;
  /** Probe keys this request must look at afresh whatever the TTL (a namespace made again). */
  private readonly mustLook = new Set<string>();
  private readonly networks = new Map<string, Promise<Observed<Value<'ip'>>>>();

  readonly runner: ProbeRunner;
  readonly probes: HostProbes;
  readonly config: Config;
  /** The cloud's probes; null when no cloud is configured (every cloud field is then null). */
  readonly cloud: CloudProbes | null;
  private readonly cloudLooks = new Map<string, Promise<Observed<unknown>>>();

  constructor(runner: ProbeRunner, probes: HostProbes, config: Config, cloud: CloudProbes | null = null) {
    this.runner = runner;
    this.probes = probes;
    this.config = config;
    this.cloud = cloud;
    this.loader = new DataLoader(
      (keys) => Promise.all(keys.map((k) => this.runner.observe(this.probes[k.probe] as ProbeDefinition<unknown>, k.scope, { maxAgeMs: this.mustLook.has(keyOf(k)) ? 0 : this.maxAgeMs, aheadMs: this.aheadMs, budget: this.budget, looks: this.looks }, this.trace).catch((e: Error) => e))),
      { cacheKeyFn: keyOf, batch: false },
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

  /**
   * The latest stored look at a namespace's network, without running anything (null when there is
   * none, or when it is older than the maxAge the query asked for). For locating a device by
   * name; what is served is then looked at through network().
   */
  cachedNetwork(namespace: string): Value<'ip'> | null {
    this.reusable = false;
    const latest = this.runner.store.latest(this.probes.ip.name, namespace);
    if (!latest) return null;
    if (this.maxAgeMs !== undefined && Date.now() - latest.lastSeen >= this.maxAgeMs) return null;
    return latest.payload as Value<'ip'>;
  }

  deployments() { return this.observe('lbaas'); }
  namespaces() { return this.observe('netns'); }
  processes() { return this.observe('proc'); }
  /**
   * A namespace's network. Its file is checked first (one stat): a namespace deleted since the
   * last look is gone now, not served from the cache until the TTL runs out; one deleted and made
   * again under the same name (another inode) is looked at afresh.
   */
  network(namespace: string): Promise<Observed<Value<'ip'>>> {
    let pending = this.networks.get(namespace);
    if (!pending) {
      pending = this.checkedNetwork(namespace);
      this.networks.set(namespace, pending);
    }
    return pending;
  }

  private checkedNetwork(namespace: string): Promise<Observed<Value<'ip'>>> {
    const check = this.probes.namespaceInode;
    if (!check || !isValidNamespaceName(namespace)) return this.observe('ip', namespace); // an invalid name is refused there
    // With the netns dir watched, a deleted or remade namespace has already outdated its network
    // (watchers.ts); a stat per namespace was 160 ms of a 1000-namespace trace (mount lookups).
    if (this.namespaceFilesWatched()) return this.observe('ip', namespace);
    const inode = check(namespace);
    if (inode === null) {
      this.reusable = false;
      const message = `namespace ${namespace} does not exist (any more): it is no longer a mounted namespace in ${this.config.netnsDir}`;
      this.trace.push({ probe: this.probes.ip.name, scope: namespace, source: 'failed', durationMs: 0, observedAt: null, error: { kind: 'gone', message } });
      return Promise.reject(new ProbeFailedError(this.probes.ip.name, namespace, 'gone', message));
    }
    const cachedInode = (this.runner.store.latest(this.probes.ip.name, namespace)?.payload as Value<'ip'> | undefined)?.inode;
    if (inode !== undefined && cachedInode !== undefined && cachedInode !== inode) this.mustLook.add(keyOf({ probe: 'ip', scope: namespace }));
    return this.observe('ip', namespace);
  }
  ovs() { return this.observe('ovs', this.config.ovsdb); }
  stats(socketPath: string) { return this.observe('stats', socketPath); }

  /** One cloud list (ports, load balancers, ...), at most once per request. Requires a cloud. */
  cloudList<K extends CloudListProbe>(probe: K): Promise<Observed<CloudValue<K>>> {
    const cloud = this.requireCloud();
    return this.observeCloud(cloud[probe] as ProbeDefinition<unknown>, cloud.name) as Promise<Observed<CloudValue<K>>>;
  }

  /** One load balancer's status tree (null: Octavia does not know it). Requires a cloud. */
  cloudStatus(loadBalancerId: string): Promise<Observed<CloudValue<'status'>>> {
    const cloud = this.requireCloud();
    return this.observeCloud(cloud.status, statusScope(cloud, loadBalancerId)) as Promise<Observed<CloudValue<'status'>>>;
  }

  private requireCloud(): CloudProbes {
    if (!this.cloud) throw new Error('no cloud is configured');
    return this.cloud;
  }

  private observeCloud(def: ProbeDefinition<unknown>, scope: string): Promise<Observed<unknown>> {
    const key = `${def.name}\u0000${scope}`;
    let look = this.cloudLooks.get(key);
    if (!look) {
      look = this.runner.observe(def, scope, { maxAgeMs: this.maxAgeMs, looks: this.looks }, this.trace);
      this.cloudLooks.set(key, look);
    }
    return look;
  }
  amphora() { return this.observe('amphora'); }
  rules(namespace: string) { return this.observe('rule', namespace); }
}

type CloudValue<K extends CloudListProbe | 'status'> = CloudProbes[K] extends ProbeDefinition<infer T> ? T : never;
function keyOf(k: ProbeKey): string {
  return `${k.probe}\u0000${k.scope}`;
}
