import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiscoveryError } from '../src/host/errors.ts';
import { parseHaproxyConfig } from '../src/host/haproxy-config.ts';
import { parseShowInfo, parseStatCsv, queryHaproxyStats, splitInfoAndStat } from '../src/host/haproxy-stats.ts';

interface RecordedFixture {
  command: string;
  recordedAt: string;
  haproxyVersion: string;
  output: string;
}

const fixtureText = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const recorded = (name: string) => JSON.parse(fixtureText(name)) as RecordedFixture;

const POOL = '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a';
const OCTAVIA_BACKEND = '2c2c2c2c-3d3d-4e4e-8f5f-6a6a6a6a6a6a:5a5a5a5a-6b6b-4c7c-8d8d-9e9e9e9e9e9e';
const MEMBER_UP = '11111111-2222-4333-8444-555555555555';
const MEMBER_DOWN = '66666666-7777-4888-9999-aaaaaaaaaaaa';
const MEMBER_MAINT = '0a0a0a0a-0b0b-4c0c-8d0d-0e0e0e0e0e0e';
const MEMBER_BACKUP = '0f0f0f0f-1a1a-4b1b-9c1c-1d1d1d1d1d1d';

function isParseError(error: unknown): boolean {
  return error instanceof DiscoveryError && error.kind === 'parse';
}

describe('recorded haproxy 2.6 output', () => {
  test('show stat at level user: rows by type, health, and no addr', () => {
    const fixture = recorded('haproxy-show-stat.json');
    assert.equal(fixture.command, 'show stat\n');
    const rows = parseStatCsv(fixture.output);
    assert.deepEqual(
      rows.map((r) => [r.pxname, r.svname, r.type, r.status]),
      [
        ['3f1e9a2b-5c6d-4e7f-8a9b-0c1d2e3f4a5b', 'FRONTEND', 'frontend', 'OPEN'],
        [POOL, MEMBER_UP, 'server', 'UP'],
        [POOL, MEMBER_DOWN, 'server', 'DOWN'],
        [POOL, MEMBER_MAINT, 'server', 'MAINT'],
        [POOL, MEMBER_BACKUP, 'server', 'UP'],
        [POOL, 'BACKEND', 'backend', 'UP'],
        ['5a5a5a5a-6b6b-4c7c-8d8d-9e9e9e9e9e9e', 'FRONTEND', 'frontend', 'OPEN'],
        [OCTAVIA_BACKEND, '7c7c7c7c-8d8d-4e9e-9f0f-1a2b3c4d5e6f', 'server', 'no check'],
        [OCTAVIA_BACKEND, 'BACKEND', 'backend', 'UP'],
      ],
    );
    const byServer = new Map(rows.map((r) => [r.svname, r]));
    const up = byServer.get(MEMBER_UP)!;
    assert.deepEqual(
      [up.checkStatus, up.checkCode, up.checkDesc, up.active, up.backup, up.weight, up.chkfail, up.lastChk],
      ['L7OK', 200, 'Layer7 check passed', true, false, 1, 0, null],
    );
    const down = byServer.get(MEMBER_DOWN)!;
    assert.deepEqual(
      [down.checkStatus, down.checkCode, down.checkDesc, down.lastChk, down.chkdown],
      ['L4CON', null, 'Layer4 connection problem', 'Connection refused', 1],
    );
    assert.ok((down.chkfail ?? 0) >= 1);
    assert.deepEqual([byServer.get(MEMBER_BACKUP)?.active, byServer.get(MEMBER_BACKUP)?.backup], [false, true]);
    const backend = rows.find((r) => r.pxname === POOL && r.type === 'backend')!;
    assert.deepEqual([backend.activeServers, backend.backupServers, backend.active, backend.backup], [1, 1, null, null]);
    // level user hides server addresses; only operator/admin sockets fill `addr`.
    assert.ok(rows.every((r) => r.addr === null));
    assert.ok(rows.every((r) => r.pid === 1 && r.iid !== null && r.sid !== null));
    assert.equal(rows[0]?.columns['mode'], 'http');
  });

  test('show stat at level admin carries the server addresses', () => {
    const rows = parseStatCsv(recorded('haproxy-show-stat-admin.json').output);
    const addrs = Object.fromEntries(rows.filter((r) => r.type === 'server').map((r) => [r.svname, r.addr]));
    assert.equal(addrs[MEMBER_UP], '127.0.0.1:18081');
    assert.equal(addrs[MEMBER_DOWN], '127.0.0.1:18082');
  });

  test('show stat -1 6 -1 (what neutron-lbaas and Octavia send): backends and servers only', () => {
    const rows = parseStatCsv(recorded('haproxy-show-stat-backends-servers.json').output);
    assert.ok(rows.length > 0);
    assert.ok(rows.every((r) => r.type === 'backend' || r.type === 'server'));
  });

  test('every recorded backend and server is in the config it was recorded with', () => {
    const config = parseHaproxyConfig(fixtureText('haproxy-recording.cfg'));
    const servers = new Set(config.backends.flatMap((b) => b.servers.map((s) => `${b.name}/${s.id}`)));
    const rows = parseStatCsv(recorded('haproxy-show-stat.json').output).filter((r) => r.type === 'server');
    assert.equal(rows.length, servers.size);
    for (const row of rows) assert.ok(servers.has(`${row.pxname}/${row.svname}`), row.svname);
    const octavia = config.backends.find((b) => b.name === OCTAVIA_BACKEND);
    assert.deepEqual([octavia?.poolId, octavia?.listenerId], OCTAVIA_BACKEND.split(':'));
  });

  test('show info', () => {
    const fixture = recorded('haproxy-show-info.json');
    const info = parseShowInfo(fixture.output);
    assert.equal(info.name, 'HAProxy');
    assert.equal(info.version, fixture.haproxyVersion);
    assert.equal(info.maxconn, 2000);
    assert.equal(typeof info.pid, 'number');
    assert.equal(typeof info.uptimeSec, 'number');
    assert.equal(info.currConns, 0);
    // Keys with spaces exist in 2.6.
    assert.equal(info.fields['Unstoppable Jobs'], '0');
    assert.equal(info.fields['Build info'], fixture.haproxyVersion);
  });

  test('show info;show stat: info, a blank line, the CSV, a blank line', () => {
    const fixture = recorded('haproxy-show-info-stat.json');
    assert.equal(fixture.command, 'show info;show stat\n');
    assert.match(fixture.output, /\nTainted: 0\n\n# pxname,svname,/);
    assert.ok(fixture.output.endsWith(',\n\n'));
    const parts = splitInfoAndStat(fixture.output);
    assert.ok(parts);
    assert.equal(parseShowInfo(parts.info).name, 'HAProxy');
    assert.equal(parseStatCsv(parts.stat).length, 9);
  });

  test('the answer to an unknown command is refused by both parsers', () => {
    const output = recorded('haproxy-unknown-command.json').output;
    assert.match(output, /^Unknown command/);
    assert.throws(() => parseStatCsv(output), isParseError);
    assert.throws(() => parseShowInfo(output), isParseError);
    assert.equal(splitInfoAndStat(output), null);
  });
});

describe('parseStatCsv by header name', () => {
  test('reordered columns, an extra unknown column, trailing commas and empty cells', () => {
    const csv = [
      '# svname,type,status,zz_new_in_3_0,pxname,scur,check_status,check_code,act,bck,weight,lastchg,',
      'FRONTEND,0,OPEN,x,fe1,3,,,,,,,',
      'm1,2,UP,,pool1,1,* L7OK,200,1,0,7,42,',
      'm2,2,DOWN,,pool1,,L4TOUT,,0,1,1,5,',
      'BACKEND,1,UP,y,pool1,1,,,1,1,8,42,',
      '',
    ].join('\n');
    const rows = parseStatCsv(csv);
    assert.deepEqual(
      rows.map((r) => [r.pxname, r.svname, r.type, r.status, r.scur, r.weight]),
      [
        ['fe1', 'FRONTEND', 'frontend', 'OPEN', 3, null],
        ['pool1', 'm1', 'server', 'UP', 1, 7],
        ['pool1', 'm2', 'server', 'DOWN', null, 1],
        ['pool1', 'BACKEND', 'backend', 'UP', 1, 8],
      ],
    );
    assert.deepEqual([rows[1]?.checkStatus, rows[1]?.checkInProgress, rows[1]?.checkCode, rows[1]?.lastchg], ['L7OK', true, 200, 42]);
    assert.deepEqual([rows[2]?.checkStatus, rows[2]?.checkInProgress, rows[2]?.active, rows[2]?.backup], ['L4TOUT', false, false, true]);
    assert.equal(rows[0]?.columns['zz_new_in_3_0'], 'x');
    assert.equal(rows[1]?.columns['zz_new_in_3_0'], null);
    // Columns the CSV does not have are null, not an error.
    assert.deepEqual([rows[0]?.stot, rows[0]?.addr, rows[0]?.checkDesc], [null, null, null]);
  });

  test('a row without the trailing comma, quoted fields, CRLF, and no type column (svname decides)', () => {
    const rows = parseStatCsv('# pxname,svname,status,last_chk,\r\np1,FRONTEND,OPEN,\r\np1,m1,DOWN,"HTTP status check returned code <503>, body ""x"""\r\np1,BACKEND,DOWN,,\r\n');
    assert.deepEqual(rows.map((r) => r.type), ['frontend', 'server', 'backend']);
    assert.equal(rows[1]?.lastChk, 'HTTP status check returned code <503>, body "x"');
  });

  test('garbage is refused with a parse error', () => {
    const cases = [
      '',
      'Permission denied\n',
      '{"pxname":"x"}',
      '# foo,bar,\n1,2,\n',
      '# pxname,svname,scur,\np1,FRONTEND,lots,\n',
      '# pxname,svname,scur,\np1,FRONTEND,1,2,3,\n',
      '# pxname,svname,scur,\n,FRONTEND,1,\n',
      '# pxname,svname,type,\np1,FRONTEND,7,\n',
    ];
    for (const text of cases) {
      assert.throws(() => parseStatCsv(text), isParseError, JSON.stringify(text));
    }
    assert.throws(
      () => parseStatCsv('# pxname,svname,scur,\np1,FRONTEND,lots,\n'),
      (error: unknown) => error instanceof DiscoveryError && /scur/.test(error.message) && /line 2/.test(error.message),
    );
  });

  test('show info garbage is refused', () => {
    for (const text of ['', 'hello', 'Foo: bar\n', 'Name: HAProxy\nPid: abc\n']) {
      assert.throws(() => parseShowInfo(text), isParseError, JSON.stringify(text));
    }
  });
});

// ------------------------------------------------------------------------------------------------
// Against real haproxy 2.6 and hostile sockets. Everything binds to 127.0.0.1 or unix sockets.

async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitFor<T>(probe: () => Promise<T | null> | T | null, what: string, limitMs = 8000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function startHaproxy(configPath: string): { child: ChildProcess; stderr: () => string } {
  let stderr = '';
  const child = spawn('haproxy', ['-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, stderr: () => stderr };
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

describe('queryHaproxyStats', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'haproxy-stats-test-'));
  const socketPath = join(scratch, 'haproxy_stats.sock');
  let haproxy: ReturnType<typeof startHaproxy> | undefined;
  let member: http.Server | undefined;
  const hostile: net.Server[] = [];

  before(async () => {
    member = http.createServer((_req, res) => res.end('ok\n'));
    await new Promise<void>((resolve) => member!.listen(0, '127.0.0.1', resolve));
    const memberPort = (member.address() as net.AddressInfo).port;
    const deadPort = await freeLoopbackPort();
    const frontendPort = await freeLoopbackPort();
    const configPath = join(scratch, 'haproxy.cfg');
    writeFileSync(
      configPath,
      [
        'global',
        `    stats socket ${socketPath} mode 0600 level user`,
        'defaults',
        '    mode http',
        '    timeout connect 1s',
        '    timeout client 5s',
        '    timeout server 5s',
        'frontend listener-1',
        `    bind 127.0.0.1:${frontendPort}`,
        '    default_backend pool-1',
        'backend pool-1',
        '    option httpchk GET /',
        `    server member-up 127.0.0.1:${memberPort} check inter 1s fall 1 rise 1`,
        `    server member-down 127.0.0.1:${deadPort} check inter 1s fall 1 rise 1`,
        '',
      ].join('\n'),
    );
    haproxy = startHaproxy(configPath);
    await waitFor(() => (existsSync(socketPath) ? true : null), `the stats socket (${haproxy.stderr()})`);
  });

  after(async () => {
    if (haproxy) await stopProcess(haproxy.child);
    await new Promise<void>((resolve) => (member ? member.close(() => resolve()) : resolve()));
    for (const server of hostile) server.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('a real haproxy 2.6: reachable, with info and health of both members', async () => {
    // Checks run every second; wait until both have been judged.
    const result = await waitFor(async () => {
      const answer = await queryHaproxyStats(socketPath);
      if (!answer.reachable) throw new Error(answer.error);
      const statuses = answer.rows.filter((r) => r.type === 'server').map((r) => r.status);
      return statuses.includes('UP') && statuses.includes('DOWN') ? answer : null;
    }, 'the checks to settle');
    assert.equal(result.reachable, true);
    assert.equal(result.info.name, 'HAProxy');
    assert.match(result.info.version ?? '', /^2\.6\./);
    assert.equal(result.info.pid, haproxy?.child.pid);
    assert.ok(result.durationMs >= 0 && result.durationMs < 2000);
    assert.deepEqual(
      result.rows.map((r) => [r.pxname, r.svname, r.type, r.status]),
      [
        ['listener-1', 'FRONTEND', 'frontend', 'OPEN'],
        ['pool-1', 'member-up', 'server', 'UP'],
        ['pool-1', 'member-down', 'server', 'DOWN'],
        ['pool-1', 'BACKEND', 'backend', 'UP'],
      ],
    );
    const down = result.rows.find((r) => r.svname === 'member-down');
    assert.equal(down?.checkStatus, 'L4CON');
    assert.equal(down?.lastChk, 'Connection refused');
  });

  test('a missing socket path', async () => {
    const result = await queryHaproxyStats(join(scratch, 'no-such.sock'));
    assert.equal(result.reachable, false);
    assert.equal(result.reachable === false && result.reason, 'missing');
  });

  test('a socket file nobody listens on (a haproxy killed with -9 leaves one)', async () => {
    const deadSocket = join(scratch, 'killed.sock');
    const configPath = join(scratch, 'killed.cfg');
    writeFileSync(configPath, `global\n    stats socket ${deadSocket} mode 0600 level user\n`);
    const killed = startHaproxy(configPath);
    await waitFor(() => (existsSync(deadSocket) ? true : null), 'the second stats socket');
    await stopProcess(killed.child, 'SIGKILL');
    assert.ok(existsSync(deadSocket), 'SIGKILL leaves the socket file behind');
    const result = await queryHaproxyStats(deadSocket);
    assert.equal(result.reachable, false);
    assert.equal(result.reachable === false && result.reason, 'refused');
  });

  test('a regular file at the socket path is refused', async () => {
    const file = join(scratch, 'not-a-socket');
    writeFileSync(file, 'x');
    const result = await queryHaproxyStats(file);
    assert.equal(result.reachable === false && result.reason, 'refused');
  });

  test('a silent peer times out in about timeoutMs and the socket is destroyed', async () => {
    const silentPath = join(scratch, 'silent.sock');
    let peerClosed: Promise<void> | undefined;
    let requestSeen = '';
    const silent = net.createServer((connection) => {
      connection.on('data', (chunk) => (requestSeen += chunk.toString()));
      connection.on('error', () => {});
      peerClosed = new Promise<void>((resolve) => connection.on('close', () => resolve()));
    });
    hostile.push(silent);
    await new Promise<void>((resolve) => silent.listen(silentPath, resolve));
    const result = await queryHaproxyStats(silentPath, { timeoutMs: 300 });
    assert.equal(result.reachable, false);
    assert.equal(result.reachable === false && result.reason, 'timeout');
    assert.ok(result.durationMs >= 290 && result.durationMs < 1000, `took ${result.durationMs} ms`);
    assert.equal(requestSeen, 'show info;show stat\n');
    assert.ok(peerClosed);
    await Promise.race([
      peerClosed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('client socket was not destroyed')), 1000)),
    ]);
  });

  test('a peer that answers garbage, or nothing, gives reason garbage', async () => {
    const answers = ['hello there\n', recorded('haproxy-unknown-command.json').output, '', '# pxname,svname,\nonly-one-field\n\n'];
    for (const [index, answer] of answers.entries()) {
      const path = join(scratch, `garbage-${index}.sock`);
      const server = net.createServer((connection) => {
        connection.on('error', () => {});
        connection.once('data', () => connection.end(answer));
      });
      hostile.push(server);
      await new Promise<void>((resolve) => server.listen(path, resolve));
      const result = await queryHaproxyStats(path, { timeoutMs: 1000 });
      assert.equal(result.reachable, false, JSON.stringify(answer));
      assert.equal(result.reachable === false && result.reason, 'garbage', JSON.stringify(answer));
    }
  });

  test('a peer that drops the connection mid-answer is a result, not an exception', async () => {
    const path = join(scratch, 'reset.sock');
    const server = net.createServer((connection) => {
      connection.on('error', () => {});
      connection.once('data', () => {
        connection.write('Name: HAProxy\n');
        connection.destroy();
      });
    });
    hostile.push(server);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const result = await queryHaproxyStats(path, { timeoutMs: 1000 });
    assert.equal(result.reachable, false);
    assert.ok(result.reachable === false && ['error', 'garbage'].includes(result.reason), JSON.stringify(result));
  });
});
