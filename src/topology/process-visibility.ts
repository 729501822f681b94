// What the API shows of the host's processes. Command lines carry secrets (`--db-password=...`,
// `mysql://user:pass@db`), and any loopback client can ask, so by default only the processes an
// LBaaS operator needs are listed: those in named namespaces (qlbaas-, qrouter-, amphora-haproxy,
// ...), and haproxy and keepalived wherever they run. LBTOPO_PROCESSES=all lists every process.
// Either way, values of flags that look like secrets are redacted. Joins (a pool's haproxy, stale
// pids) use every process; only what is shown is filtered.
import type { ProcessInfo } from '../host/procfs.ts';
import type { NamedNamespace } from '../host/netns.ts';
import { haproxyIdentity, namespaceIndex } from './indexes.ts';

export type ProcessVisibility = 'lbaas' | 'all';

export const REDACTED = '<redacted>';

/** A flag or variable name that names a secret: password, passwd, secret, token, api-key, ... */
const SECRET_NAME = /(pass(word|wd|phrase)?|secret|token|api[-_]?key|private[-_]?key|access[-_]?key|credential|auth[-_]?key|session[-_]?key)/i;
const LONG_OR_SHORT_FLAG = /^(-{1,2})([A-Za-z0-9][A-Za-z0-9_.-]*)$/;
const FLAG_WITH_VALUE = /^(-{1,2}[A-Za-z0-9][A-Za-z0-9_.-]*)=(.*)$/s;
const VARIABLE = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;
/** scheme://user:password@host: the password part. */
const URL_CREDENTIALS = /([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]+@/g;

/** argv with the values of secret-looking flags, variables and URL passwords replaced by <redacted>. */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let redactNext = false;
  for (const arg of argv) {
    if (redactNext) {
      redactNext = false;
      if (!arg.startsWith('-')) {
        out.push(REDACTED);
        continue;
      }
    }
    const withValue = FLAG_WITH_VALUE.exec(arg);
    if (withValue && SECRET_NAME.test(withValue[1]!)) {
      out.push(`${withValue[1]}=${REDACTED}`);
      continue;
    }
    const variable = VARIABLE.exec(arg);
    if (variable && SECRET_NAME.test(variable[1]!)) {
      out.push(`${variable[1]}=${REDACTED}`);
      continue;
    }
    const flag = LONG_OR_SHORT_FLAG.exec(arg);
    // `-p` is a pid file for haproxy: only names of two letters or more count.
    if (flag && flag[2]!.length > 1 && SECRET_NAME.test(flag[2]!)) {
      out.push(arg);
      redactNext = true;
      continue;
    }
    out.push(arg.replace(URL_CREDENTIALS, `$1${REDACTED}@`));
  }
  return out;
}

function baseName(path: string): string {
  return path.replace(/ \(deleted\)$/, '').split('/').pop() ?? '';
}

/** keepalived (the amphora VRRP daemon) by argv[0] and exe, as haproxy is recognised. */
export function isKeepalived(p: ProcessInfo): boolean {
  if (!p.argv[0] || baseName(p.argv[0]) !== 'keepalived') return false;
  return p.exe !== null ? baseName(p.exe) === 'keepalived' : p.comm === 'keepalived';
}

/** Whether a process is shown under this visibility. */
export function isProcessVisible(p: ProcessInfo, namespaces: readonly NamedNamespace[], visibility: ProcessVisibility): boolean {
  if (visibility === 'all') return true;
  if (p.netnsInode !== null && namespaceIndex(namespaces).namesByInode.has(p.netnsInode)) return true;
  return haproxyIdentity(p) !== null || isKeepalived(p);
}
