import type { ProcessInfo } from '../host/procfs.ts';
import { isValidPid } from '../host/names.ts';
import { builder } from './builder.ts';
import { NamespaceRef } from './namespace.ts';
import { PoolRef } from './pool.ts';
import { applyMaxAge, badUserInput, MAX_AGE_DESCRIPTION, requireNamespaceName } from './arguments.ts';
import { findNamespace, findVisibleProcess, listPools, listVisibleProcesses, namespaceNamesOfProcess, processesInNamespace } from '../topology/queries.ts';
import { redactArgv } from '../topology/process-visibility.ts';
import type { Seen } from '../topology/queries.ts';
import { haproxyFiles, isHaproxy, poolOfProcess } from '../topology/pools.ts';
import { haproxyIdentity } from '../topology/indexes.ts';

export const ProcessRef = builder.objectRef<Seen<ProcessInfo>>('Process');

ProcessRef.implement({
  description: 'A process, from one scan of /proc (no process spawned). Identity is pid + startedAt, so a reused pid is not confused.',
  fields: (t) => ({
    pid: t.exposeInt('pid', { description: 'Process id.' }),
    ppid: t.exposeInt('ppid', { description: 'Parent process id.' }),
    command: t.exposeString('comm', { description: 'Kernel task name (comm).' }),
    argv: t.stringList({
      description: 'Command line arguments; empty for kernel threads. Values of flags and variables that look like secrets (--db-password=..., --token X, PASSWORD=..., the password of scheme://user:pass@host) read <redacted>.',
      resolve: (p) => redactArgv(p.argv),
    }),
    exe: t.exposeString('exe', { nullable: true, description: 'Executable path, when readable.' }),
    user: t.exposeString('user', { nullable: true, description: 'User name of the effective uid.' }),
    uid: t.exposeInt('uid', { description: 'Effective uid.' }),
    state: t.exposeString('state', { description: 'State letter: R running, S sleeping, D disk wait, Z zombie, T stopped, ...' }),
    startedAt: t.field({ type: 'DateTime', description: 'When the process started.', resolve: (p) => p.startedAt }),
    rssBytes: t.exposeFloat('rssBytes', { description: 'Resident memory in bytes.' }),
    netnsInode: t.exposeFloat('netnsInode', { nullable: true, description: 'Inode of its network namespace (net:[N]).' }),
    namespaceNames: t.stringList({ nullable: true, description: 'Every named namespace it is in, sorted (empty for the root or an unnamed namespace). `ip netns identify PID` prints one of these: the last in directory order.', resolve: (p, _a, ctx) => namespaceNamesOfProcess(ctx.session, p) }),
    namespace: t.field({
      type: NamespaceRef,
      nullable: true,
      description: 'The named namespace it is in (the first name when several point to it); null when none, as `ip netns identify` prints nothing.',
      resolve: async (p, _a, ctx) => {
        const [name] = await namespaceNamesOfProcess(ctx.session, p);
        return name ? findNamespace(ctx.session, name) : null;
      },
    }),
    haproxyMatch: t.string({
      nullable: true,
      description: 'Why this process counts as haproxy: argv[0] and /proc/PID/exe both name haproxy (comm when exe is unreadable). Null: not a haproxy, whatever its argv says.',
      resolve: (p) => haproxyIdentity(p)?.matched ?? null,
    }),
    configPath: t.string({ nullable: true, description: 'For haproxy: the config file it was started with (-f), resolved against its cwd and with symlinks resolved (what a pool is matched by).', resolve: (p) => (isHaproxy(p) ? haproxyFiles(p).configPaths[0] ?? null : null) }),
    pidFile: t.string({ nullable: true, description: 'For haproxy: the pid file it was told to write (-p).', resolve: (p) => (isHaproxy(p) ? haproxyFiles(p).pidFile : null) }),
    pool: t.field({ type: PoolRef, nullable: true, description: 'For haproxy: the pool whose config it runs.', resolve: async (p, _a, ctx) => poolOfProcess(p, await listPools(ctx.session)) }),
    observedAt: t.field({ type: 'DateTime', description: 'When the /proc scan that saw it ran.', resolve: (p) => p.observedAt }),
  }),
});

builder.queryFields((t) => ({
  process: t.field({
    type: ProcessRef,
    nullable: true,
    description: 'One process by pid; null when there is none, or when LBTOPO_PROCESSES=lbaas (the default) hides it (not in a named namespace, not haproxy or keepalived). Its `namespace` answers what `ip netns identify PID` answers.',
    args: { pid: t.arg.int({ required: true, description: 'Process id (> 0).' }), maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }) },
    resolve: async (_root, args, ctx) => {
      if (!isValidPid(args.pid)) throw badUserInput(`not a valid pid: ${args.pid}`);
      applyMaxAge(ctx, args.maxAge);
      return findVisibleProcess(ctx.session, args.pid);
    },
  }),
  processes: t.field({
    type: [ProcessRef],
    nullable: true,
    description: 'Processes, sorted by pid. With LBTOPO_PROCESSES=lbaas (the default): those in named namespaces, and haproxy and keepalived wherever they run; =all: every process.',
    args: {
      command: t.arg.string({ description: 'Only processes with this comm (e.g. haproxy).' }),
      namespace: t.arg.string({ description: 'Only processes in this named namespace.' }),
      maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }),
    },
    resolve: async (_root, args, ctx) => {
      // Arguments first: a bad one is refused before /proc is scanned.
      if (args.namespace != null) requireNamespaceName(args.namespace);
      applyMaxAge(ctx, args.maxAge);
      let processes = await listVisibleProcesses(ctx.session);
      if (args.command != null) processes = processes.filter((p) => p.comm === args.command);
      if (args.namespace != null) {
        const ns = await findNamespace(ctx.session, args.namespace);
        const inNamespace = new Set(ns ? await processesInNamespace(ctx.session, ns) : []);
        processes = processes.filter((p) => inNamespace.has(p));
      }
      return processes;
    },
  }),
}));
