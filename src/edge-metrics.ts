// Metrics of the bounds (registered into the /metrics registry by metrics.ts): the command
// queue behind the concurrency limit, and requests refused by a query limit, the request
// deadline or the HTTP edge. Labels come from fixed lists only.
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { CommandGateway } from './host/exec.ts';
import type { LimitName } from './graphql/limits.ts';
import type { EdgeRefusal } from './http/edge.ts';

export type RefusalReason = LimitName | EdgeRefusal;
const REASONS: readonly RefusalReason[] = ['depth', 'aliases', 'fields', 'cost', 'tokens', 'deadline', 'host', 'origin', 'content-type'];

/** Counts refusals as they happen; the registry reads them when scraped. */
export class Refusals {
  readonly counts = new Map<RefusalReason, number>(REASONS.map((r) => [r, 0]));
  readonly count = (reason: RefusalReason): void => {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  };
}

export function registerEdgeMetrics(registers: Registry[], gateway: CommandGateway, refusals: Refusals): void {
  new Gauge({
    name: 'lbtopo_command_queue_waiting',
    help: `Host commands waiting for one of the ${gateway.concurrency} slots (at most ${gateway.queueLimit}, LBTOPO_COMMAND_QUEUE).`,
    registers,
    collect() {
      this.set(gateway.queued);
    },
  });
  new Counter({
    name: 'lbtopo_command_queue_refused_total',
    help: 'Host commands refused because the queue was full (their probe failed as overloaded).',
    registers,
    collect() {
      this.reset();
      this.inc(gateway.queueRefusals);
    },
  });
  new Counter({
    name: 'lbtopo_requests_refused_total',
    help: 'Requests refused or stopped, by reason: a query limit (depth, aliases, fields, cost, tokens), the request deadline, or the HTTP edge (host, origin, content-type).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of refusals.counts) this.inc({ reason }, n);
    },
  });
}
