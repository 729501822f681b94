// Which processes the API shows and how their argv is redacted (issue 8 item 19), on records
// shaped as the /proc scan makes them; the lab test in hardening.test.ts checks a real process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isProcessVisible, redactArgv, REDACTED } from '../src/topology/process-visibility.ts';
import type { ProcessInfo } from '../src/host/procfs.ts';
import type { NamedNamespace } from '../src/host/netns.ts';

const R = REDACTED;

test('secret-looking flag values, variables and URL passwords are redacted; the rest is kept', () => {
  const cases: Array<[string[], string[]]> = [
    [['nova-api', '--db-password=hunter2', '--debug'], ['nova-api', `--db-password=${R}`, '--debug']],
    [['svc', '--token', 'abc123', '--port', '80'], ['svc', '--token', R, '--port', '80']],
    [['svc', '--os-password', 'pw', '--api-key=k', '--secret-file', '/etc/x'], ['svc', '--os-password', R, `--api-key=${R}`, '--secret-file', R]],
    [['env', 'MYSQL_PASSWORD=pw', 'HOME=/root'], ['env', `MYSQL_PASSWORD=${R}`, 'HOME=/root']],
    [['app', '--connection=mysql+pymysql://nova:s3cret@db.example/nova'], ['app', `--connection=mysql+pymysql://nova:${R}@db.example/nova`]],
    // haproxy's own flags are no secrets: -p is its pid file.
    [['haproxy', '-f', '/var/lib/neutron/lbaas/x/conf', '-p', '/var/lib/neutron/lbaas/x/pid', '-sf', '42'], ['haproxy', '-f', '/var/lib/neutron/lbaas/x/conf', '-p', '/var/lib/neutron/lbaas/x/pid', '-sf', '42']],
    // A secret flag followed by another flag has no value to hide.
    [['svc', '--password', '--verbose'], ['svc', '--password', '--verbose']],
  ];
  for (const [argv, expected] of cases) assert.deepEqual(redactArgv(argv), expected, argv.join(' '));
});

function proc(over: Partial<ProcessInfo>): ProcessInfo {
  return { pid: 10, ppid: 1, comm: 'x', state: 'S', startTicks: 1, startedAt: 1, uid: 0, user: 'root', rssBytes: 0, argv: ['x'], exe: '/usr/bin/x', netnsInode: 1, haproxy: null, ...over };
}
const namespaces: NamedNamespace[] = [{ name: 'qlbaas-a', path: '/run/netns/qlbaas-a', inode: 77, dev: 4, kind: 'qlbaas', uuid: null }];

test('by default: processes in named namespaces, haproxy and keepalived; =all: everything', () => {
  const sshd = proc({ argv: ['sshd'], exe: '/usr/sbin/sshd', netnsInode: 1 });
  const inNamespace = proc({ argv: ['sleep', '1'], exe: '/usr/bin/sleep', netnsInode: 77 });
  const keepalived = proc({ argv: ['/usr/sbin/keepalived', '-D'], exe: '/usr/sbin/keepalived', comm: 'keepalived' });
  const fakeKeepalived = proc({ argv: ['keepalived'], exe: '/usr/bin/bash', comm: 'bash' });
  const haproxy = proc({ argv: ['haproxy', '-f', '/c'], exe: '/usr/sbin/haproxy', comm: 'haproxy', haproxy: { matched: 'argv[0] haproxy, exe /usr/sbin/haproxy', givenConfigPaths: ['/c'], configPaths: ['/c'], pidFile: null } });
  assert.equal(isProcessVisible(sshd, namespaces, 'lbaas'), false);
  assert.equal(isProcessVisible(fakeKeepalived, namespaces, 'lbaas'), false, 'argv alone does not make keepalived');
  for (const p of [inNamespace, keepalived, haproxy]) assert.equal(isProcessVisible(p, namespaces, 'lbaas'), true, p.argv[0]);
  assert.equal(isProcessVisible(sshd, namespaces, 'all'), true);
});
