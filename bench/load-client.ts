// A bounded load generator for the bench, run as its own process so it does not share the
// server's event loop: C clients send the same query back to back for S seconds to a loopback
// URL, then it prints one JSON line (requests, errors, req/s, p50, p99 in ms). Every answer is
// checked against `expect` (the data of the first answer, when not given): a wrong answer counts
// as an error, not as throughput.
// Usage: node bench/load-client.ts URL CLIENTS SECONDS QUERY
const [url, clientsArg, secondsArg, query] = process.argv.slice(2);
if (!url || !clientsArg || !secondsArg || !query) throw new Error('usage: load-client.ts URL CLIENTS SECONDS QUERY');
if (!/^http:\/\/(127\.\d+\.\d+\.\d+|\[::1\]|localhost)(:\d+)?\//.test(url)) throw new Error(`refusing a non-loopback target: ${url}`);
const clients = Number(clientsArg);
const deadline = performance.now() + Number(secondsArg) * 1000;
const body = JSON.stringify({ query });
const post = async () => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  const parsed = JSON.parse(text) as { data?: unknown; errors?: unknown[] };
  if (parsed.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(parsed.errors).slice(0, 200)}`);
  return JSON.stringify(parsed.data);
};
const expected = await post();
const latencies: number[] = [];
let errors = 0;
let firstError: string | null = null;
await Promise.all(Array.from({ length: clients }, async () => {
  while (performance.now() < deadline) {
    const t0 = performance.now();
    try {
      if ((await post()) !== expected) throw new Error('a different answer under load');
      latencies.push(performance.now() - t0);
    } catch (err) {
      errors++;
      firstError ??= (err as Error).message;
    }
  }
}));
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
const seconds = Number(secondsArg);
console.log(JSON.stringify({ requests: latencies.length, errors, firstError, rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99) }));
