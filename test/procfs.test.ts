// The /proc scan: pure parsers, a fake /proc built from a recording of the real one
// (test/fixtures/proc-sample.json, see proc-record-fixtures.sh), and, as root, real processes
// started inside real namespaces, checked against `ip netns identify`.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { DiscoveryError } from '../src/host/errors.ts';
import { listNamespaces } from '../src/host/netns.ts';
import type { NamedNamespace } from '../src/host/netns.ts';
import {
  CLOCK_TICKS_PER_SECOND,
  identify,
  mapProcessesToNamespaces,
  parseBootTime,
  parseCmdline,
  parseNetnsLink,
  parsePasswd,
  parseProcStat,
  parseProcStatus,
  readProcess,
  scanProcesses,
} from '../src/host/procfs.ts';
import type { ProcessInfo } from '../src/host/procfs.ts';

const isRoot = process.getuid?.() === 0;

const linkSchema = z.union([z.string(), z.object({ error: z.string() })]);
const sampleSchema = z.object({
  procStat: z.string(),
  passwd: z.string(),
  processes: z.array(
    z.object({
      role: z.string(),
      pid: z.number(),
      stat: z.string(),
      status: z.string(),
      cmdlineBase64: z.string(),
      exe: linkSchema,
      netns: linkSchema,
    }),
  ),
});
type Sample = z.infer<typeof sampleSchema>;

async function loadSample(): Promise<Sample> {
  const text = await readFile(new URL('./fixtures/proc-sample.json', import.meta.url), 'utf8');
  return sampleSchema.parse(JSON.parse(text));
}

function sampleOf(sample: Sample, role: string): Sample['processes'][number] {
  const found = sample.processes.find((p) => p.role === role);
  assert.ok(found, `fixture has a ${role} process`);
  return found;
}

/** A fake /proc: the recorded files, and the links as (dangling) symlinks. */
async function buildFakeProc(sample: Sample, root: string): Promise<void> {
  await writeFile(join(root, 'stat'), sample.procStat);
  await writeFile(join(root, 'passwd'), sample.passwd);
  for (const p of sample.processes) {
    const dir = join(root, String(p.pid));
    await mkdir(join(dir, 'ns'), { recursive: true });
    await writeFile(join(dir, 'stat'), p.stat);
    await writeFile(join(dir, 'status'), p.status);
    await writeFile(join(dir, 'cmdline'), Buffer.from(p.cmdlineBase64, 'base64'));
    if (typeof p.exe === 'string') await symlink(p.exe, join(dir, 'exe'));
    if (typeof p.netns === 'string') await symlink(p.netns, join(dir, 'ns', 'net'));
  }
}

describe('procfs parsers', () => {
  it('parses comm containing spaces and parentheses from the last ")"', async () => {
    const sample = await loadSample();
    const weird = sampleOf(sample, 'weird-comm');
    const parsed = parseProcStat(weird.stat);
    assert.equal(parsed.comm, 'a) b (c');
    assert.equal(parsed.pid, weird.pid);
    assert.equal(parsed.state, 'S');
    assert.equal(parsed.startTicks, Number(weird.stat.slice(weird.stat.lastIndexOf(')') + 2).split(' ')[19]));
    assert.deepEqual(parseProcStat('7 (x) y)) R 3 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0'), {
      pid: 7, comm: 'x) y)', state: 'R', ppid: 3, startTicks: 12345,
    });
  });

  it('rejects stat lines of the wrong shape', () => {
    for (const bad of ['', 'garbage', '12 (x) S', '12 (x) S 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 notanumber']) {
      assert.throws(() => parseProcStat(bad, '/proc/12/stat'), (err: unknown) => {
        return err instanceof DiscoveryError && err.kind === 'parse' && err.source[0] === '/proc/12/stat';
      }, JSON.stringify(bad));
    }
  });

  it('reads effective uid and VmRSS (absent for kernel threads and zombies)', async () => {
    const sample = await loadSample();
    assert.deepEqual(parseProcStatus(sampleOf(sample, 'kernel-thread').status), { uid: 0, rssBytes: 0 });
    assert.deepEqual(parseProcStatus(sampleOf(sample, 'zombie').status), { uid: 0, rssBytes: 0 });
    const nobody = parseProcStatus(sampleOf(sample, 'nobody').status);
    assert.equal(nobody.uid, 65534);
    assert.ok(nobody.rssBytes > 0 && nobody.rssBytes % 1024 === 0);
    assert.equal(parseProcStatus('Uid:\t1\t2\t3\t4\nVmRSS:\t  10 kB\n').uid, 2);
    assert.throws(() => parseProcStatus('Name: x\n'), DiscoveryError);
  });

  it('splits cmdline on NUL and drops only the final NUL', () => {
    assert.deepEqual(parseCmdline(Buffer.from('sleep\u000030\u0000')), ['sleep', '30']);
    assert.deepEqual(parseCmdline(Buffer.from('sh\u0000-c\u0000\u0000')), ['sh', '-c', '']);
    assert.deepEqual(parseCmdline(Buffer.alloc(0)), []);
    // setproctitle-style: one string, no NUL at all.
    assert.deepEqual(parseCmdline('nginx: worker process'), ['nginx: worker process']);
  });

  it('parses net links, btime and passwd', () => {
    assert.equal(parseNetnsLink('net:[4026531840]'), 4026531840);
    assert.equal(parseNetnsLink('mnt:[4026531840]'), null);
    assert.equal(parseNetnsLink('net:[]'), null);
    assert.equal(parseBootTime('cpu 1 2\nbtime 1700000000\nprocesses 5\n'), 1700000000);
    assert.throws(() => parseBootTime('cpu 1 2\n'), DiscoveryError);
    const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/:/bin/sh\n#c\nbad\nnobody:x:65534:65534::/:/x\n');
    assert.equal(users.get(0), 'root');
    assert.equal(users.get(65534), 'nobody');
    assert.equal(users.size, 2);
  });
});

describe('scanProcesses on a recorded /proc', () => {
  let root: string;
  let sample: Sample;
  before(async () => {
    sample = await loadSample();
    root = await mkdtemp(join(tmpdir(), 'fake-proc-'));
    await buildFakeProc(sample, root);
    // A pid whose directory was listed but whose files are gone (exited mid-scan).
    await mkdir(join(root, '999999'));
    // Entries that are not processes.
    await mkdir(join(root, 'sys'));
    await writeFile(join(root, 'uptime'), '1.0 1.0\n');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads every recorded process, skips the vanished one, sorted by pid', async () => {
    const processes = await scanProcesses({ procRoot: root, passwdPath: join(root, 'passwd') });
    assert.deepEqual(processes.map((p) => p.pid), sample.processes.map((p) => p.pid).sort((a, b) => a - b));
    const byRole = (role: string): ProcessInfo => {
      const found = processes.find((p) => p.pid === sampleOf(sample, role).pid);
      assert.ok(found);
      return found;
    };
    const btime = parseBootTime(sample.procStat);

    const weird = byRole('weird-comm');
    assert.equal(weird.comm, 'a) b (c');
    assert.equal(weird.user, 'root');
    assert.equal(weird.argv[1], '60');
    assert.match(weird.argv[0] ?? '', /\/a\) b \(c$/);
    assert.equal(weird.exe, weird.argv[0]);
    assert.equal(weird.startedAt, btime * 1000 + (weird.startTicks * 1000) / CLOCK_TICKS_PER_SECOND);
    assert.ok(weird.netnsInode !== null && weird.netnsInode > 0);

    const kthread = byRole('kernel-thread');
    assert.deepEqual(
      { comm: kthread.comm, ppid: kthread.ppid, argv: kthread.argv, exe: kthread.exe, rssBytes: kthread.rssBytes },
      { comm: 'kthreadd', ppid: 0, argv: [], exe: null, rssBytes: 0 },
    );
    assert.equal(kthread.netnsInode, weird.netnsInode);

    const nobody = byRole('nobody');
    assert.deepEqual({ uid: nobody.uid, user: nobody.user, argv: nobody.argv }, { uid: 65534, user: 'nobody', argv: ['sleep', '60'] });

    // A zombie has no exe and no readable ns link but is still there: reported, with nulls.
    const zombie = byRole('zombie');
    assert.deepEqual(
      { state: zombie.state, argv: zombie.argv, exe: zombie.exe, netnsInode: zombie.netnsInode },
      { state: 'Z', argv: [], exe: null, netnsInode: null },
    );
  });

  it('gives user null for a uid without a passwd entry and without a passwd file', async () => {
    const processes = await scanProcesses({ procRoot: root, passwdPath: join(root, 'no-passwd') });
    assert.ok(processes.length > 0);
    assert.ok(processes.every((p) => p.user === null));
  });

  it('reads one process, or null when it is gone', async () => {
    const weird = sampleOf(sample, 'weird-comm');
    const one = await readProcess(weird.pid, { procRoot: root, passwdPath: join(root, 'passwd') });
    assert.equal(one?.comm, 'a) b (c');
    assert.equal(await readProcess(999999, { procRoot: root }), null);
    assert.equal(await readProcess(424242, { procRoot: root }), null);
    await assert.rejects(readProcess(0, { procRoot: root }), (err: unknown) => err instanceof DiscoveryError && err.kind === 'invalid');
  });

  it('a read that blocks fails the scan as a timeout, and the next scan gets a new worker', async () => {
    // A cmdline that blocks on open, as a read of a process stuck in D state does: the scan runs
    // in the file worker, so the main loop goes on, the caller gets 'timeout', and the stuck
    // worker is replaced.
    const blocking = await mkdtemp(join(tmpdir(), 'fake-proc-fifo-'));
    try {
      await buildFakeProc(sample, blocking);
      const weird = sampleOf(sample, 'weird-comm');
      const cmdline = join(blocking, String(weird.pid), 'cmdline');
      await rm(cmdline);
      execFileSync('mkfifo', [cmdline]);
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      const t0 = performance.now();
      await assert.rejects(scanProcesses({ procRoot: blocking, passwdPath: join(blocking, 'passwd'), timeoutMs: 300 }),
        (err: unknown) => err instanceof DiscoveryError && err.kind === 'timeout' && /the file worker/.test(err.message));
      clearInterval(ticker);
      assert.ok(performance.now() - t0 < 2000, 'the timeout came in time');
      assert.ok(ticks >= 10, `the main loop kept running while the worker was stuck (${ticks} ticks)`);
      const processes = await scanProcesses({ procRoot: root, passwdPath: join(root, 'passwd') });
      assert.equal(processes.length, sample.processes.length);
      // Let the stuck worker's open() return (a writer opens the FIFO), so it can end.
      execFileSync('sh', ['-c', 'exec 3>"$1"; exec 3>&-', 'sh', cmdline]);
    } finally {
      await rm(blocking, { recursive: true, force: true });
    }
  });
});

describe('mapProcessesToNamespaces', () => {
  const ns = (name: string, inode: number): NamedNamespace => ({
    name, path: `/run/netns/${name}`, inode, dev: 4, kind: 'other', uuid: null,
  });
  const proc = (pid: number, netnsInode: number | null): ProcessInfo => ({
    pid, ppid: 1, comm: 'x', state: 'S', startTicks: 0, startedAt: 0, uid: 0, user: 'root', rssBytes: 0,
    argv: [], exe: null, netnsInode,
  });

  it('maps by inode, with several names for one namespace and [] for unnamed or unreadable', () => {
    const map = mapProcessesToNamespaces(
      [proc(10, 100), proc(11, 200), proc(12, 300), proc(13, null)],
      [ns('b-alias', 200), ns('a', 100), ns('a-alias', 200)],
    );
    assert.deepEqual([...map.entries()], [[10, ['a']], [11, ['a-alias', 'b-alias']], [12, []], [13, []]]);
  });
});

describe('processes in real namespaces', { skip: !isRoot && 'needs root' }, () => {
  const suffix = randomBytes(3).toString('hex');
  const nsA = `lbtest-${suffix}-pa`;
  const nsB = `lbtest-${suffix}-pb`;
  const alias = `lbtest-${suffix}-pb-alias`;
  const made = [nsA, nsB];
  const children: ChildProcess[] = [];
  let workDir: string;
  let inA: number;
  let inB: number;
  let weirdPid: number;

  const start = (argv: string[]): number => {
    const [command, ...args] = argv;
    const child = spawn(command ?? 'false', args, { stdio: 'ignore' });
    children.push(child);
    assert.ok(child.pid);
    return child.pid;
  };

  before(async () => {
    for (const name of made) execFileSync('ip', ['netns', 'add', name]);
    workDir = await mkdtemp(join(tmpdir(), 'procfs-it-'));
    const weirdExe = join(workDir, 'a) b (c');
    await copyFile(execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim(), weirdExe);
    execFileSync('chmod', ['+x', weirdExe]);
    // `ip netns exec` execs the command in place, so the pid we get is the sleep's.
    inA = start(['ip', 'netns', 'exec', nsA, 'sleep', '30']);
    inB = start(['ip', 'netns', 'exec', nsB, weirdExe, '30']);
    weirdPid = inB;
    // Wait until both have exec'd (comm changes from ip to the program).
    for (let i = 0; i < 100; i++) {
      const comms = await Promise.all([inA, inB].map((pid) => readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')));
      if (comms[0]?.trim() === 'sleep' && comms[1]?.trim() === 'a) b (c') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A second name for nsB: `ip netns identify` then prints both.
    execFileSync('ip', ['netns', 'attach', alias, String(inB)]);
    made.push(alias);
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    for (const name of made) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    await rm(workDir, { recursive: true, force: true });
  });

  it('scans, maps and identifies like `ip netns identify`', async (t) => {
    const t0 = performance.now();
    const processes = await scanProcesses();
    const scanMs = performance.now() - t0;
    t.diagnostic(`scanProcesses: ${processes.length} processes in ${scanMs.toFixed(1)} ms`);
    const namespaces = await listNamespaces();
    const byPid = new Map(processes.map((p) => [p.pid, p]));
    const a = byPid.get(inA);
    const b = byPid.get(inB);
    assert.ok(a && b, 'both processes found');
    assert.equal(a.comm, 'sleep');
    assert.deepEqual(a.argv, ['sleep', '30']);
    assert.equal(b.comm, 'a) b (c');
    assert.equal(b.pid, weirdPid);
    assert.equal(a.netnsInode, namespaces.find((ns) => ns.name === nsA)?.inode);
    assert.equal(b.netnsInode, namespaces.find((ns) => ns.name === nsB)?.inode);
    assert.ok(Math.abs(a.startedAt - Date.now()) < 60_000, 'started within the last minute');

    const mapping = mapProcessesToNamespaces(processes, namespaces);
    assert.deepEqual(mapping.get(inA), [nsA]);
    assert.deepEqual(mapping.get(inB), [nsB, alias].sort());
    assert.deepEqual(mapping.get(process.pid), [], 'the test runner is in the host namespace');

    // ip prints one line: a name, or '' when the namespace has none.
    const ipIdentify = (pid: number): string =>
      execFileSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' }).replace(/\n$/, '');
    assert.deepEqual(await identify(inA, namespaces), [ipIdentify(inA)]);
    assert.deepEqual(await identify(inA), [nsA], 'with a fresh namespace list');
    assert.deepEqual(await identify(process.pid, namespaces), []);
    assert.equal(ipIdentify(process.pid), '');
    // Two names for one namespace: ip 6.1 prints only the last one it reads; we give both.
    const both = await identify(inB, namespaces);
    assert.deepEqual(both, [nsB, alias].sort());
    assert.ok(both.includes(ipIdentify(inB)), `ip's answer ${ipIdentify(inB)} is one of ours`);
    for (const pid of [inA, inB, process.pid]) {
      assert.deepEqual(mapping.get(pid), await identify(pid, namespaces), `mapping of ${pid}`);
    }
  });

  it('readProcess gives the same record as the scan', async () => {
    const [scanned] = (await scanProcesses()).filter((p) => p.pid === inA);
    const one = await readProcess(inA);
    assert.deepEqual(one, scanned);
  });

  it('refuses invalid pids and reports dead ones as gone', async () => {
    for (const pid of [0, -1, 1.5, Number.NaN, 5_000_000]) {
      await assert.rejects(identify(pid, []), (err: unknown) => err instanceof DiscoveryError && err.kind === 'invalid', String(pid));
    }
    const child = spawn('true', [], { stdio: 'ignore' });
    const pid = child.pid;
    assert.ok(pid);
    await new Promise((resolve) => child.on('exit', resolve));
    await assert.rejects(identify(pid, []), (err: unknown) => err instanceof DiscoveryError && err.kind === 'gone');
    assert.equal(await readProcess(pid), null);
  });
});
