import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DiscoveryError } from '../src/host/errors.ts';
import {
  parseHaproxyAddress,
  parseHaproxyConfig,
  parseHaproxyTimeMs,
  tokenizeHaproxyLine,
} from '../src/host/haproxy-config.ts';
import type { HaproxyServer } from '../src/host/haproxy-config.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

function server(overrides: Partial<HaproxyServer> & Pick<HaproxyServer, 'id' | 'address' | 'port' | 'line'>): HaproxyServer {
  return {
    family: 'ipv4',
    weight: null,
    check: false,
    inter: null,
    fall: null,
    rise: null,
    backup: false,
    disabled: false,
    cookie: null,
    extra: [],
    ...overrides,
  };
}

test('v1 conf (tabs, no blank lines, no final newline): global, frontend, backend and servers', () => {
  const config = parseHaproxyConfig(fixture('lbaas-v1-pool.conf'), { source: 'lbaas-v1-pool.conf' });
  const poolId = '5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
  assert.equal(config.loadBalancerId, null);
  assert.deepEqual(config.global, {
    statsSockets: [{ path: `/var/lib/neutron/lbaas/${poolId}/sock`, mode: '0666', level: 'user' }],
    pidfile: null,
    user: 'nobody',
    group: 'nogroup',
    maxconn: null,
    daemon: true,
    extra: ['log /dev/log local0', 'log /dev/log local1 notice'],
  });
  assert.equal(config.defaults.length, 1);
  assert.deepEqual(config.defaults[0]?.timeouts, { connect: 5000, client: 50000, server: 50000 });
  assert.deepEqual(config.frontends, [
    {
      name: 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f',
      kind: 'frontend',
      line: 19,
      binds: [{ address: '10.0.0.10', port: 80, family: 'ipv4', raw: '10.0.0.10:80', options: [] }],
      mode: 'http',
      defaultBackend: poolId,
      useBackends: [],
      maxconn: 1000,
      disabled: false,
      options: ['tcplog', 'forwardfor'],
      timeouts: {},
      extra: [],
    },
  ]);
  assert.equal(config.backends.length, 1);
  const backend = config.backends[0]!;
  assert.equal(backend.name, poolId);
  assert.equal(backend.poolId, poolId);
  assert.equal(backend.listenerId, null);
  assert.equal(backend.mode, 'http');
  assert.equal(backend.balance, 'leastconn');
  assert.deepEqual(backend.healthCheck, {
    type: 'http',
    method: 'GET',
    path: '/index.html',
    httpVersion: null,
    expect: 'rstatus 200|201|202',
    timeoutCheck: 5000,
  });
  assert.deepEqual(backend.extra, ['cookie SRV insert indirect nocache']);
  assert.deepEqual(backend.servers, [
    server({
      id: '8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d',
      address: '10.0.0.3',
      port: 80,
      weight: 1,
      check: true,
      inter: 3000,
      fall: 4,
      cookie: '8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d',
      line: 34,
    }),
    server({
      id: '3c4d5e6f-7a8b-4c9d-9e0f-1a2b3c4d5e6f',
      address: '10.0.0.4',
      port: 8080,
      weight: 2,
      check: true,
      inter: 3000,
      fall: 4,
      cookie: '3c4d5e6f-7a8b-4c9d-9e0f-1a2b3c4d5e6f',
      line: 35,
    }),
  ]);
  assert.deepEqual(config.unknown, []);
});

test('v2 haproxy.conf (four spaces): lb id comment, listeners, pools, TLS bind, ssl-hello overriding httpchk', () => {
  const config = parseHaproxyConfig(fixture('lbaas-v2-loadbalancer.conf'));
  const lbId = '2f8e4b6a-1c3d-4e5f-9a7b-8c9d0e1f2a3b';
  assert.equal(config.loadBalancerId, lbId);
  assert.equal(config.global.maxconn, 2000);
  assert.deepEqual(config.global.statsSockets, [
    { path: `/var/lib/neutron/lbaas/v2/${lbId}/haproxy_stats.sock`, mode: '0666', level: 'user' },
  ]);
  assert.deepEqual(
    config.frontends.map((f) => [f.name, f.defaultBackend, f.mode, f.maxconn, f.options]),
    [
      ['4b5c6d7e-8f90-4a1b-8c2d-3e4f5a6b7c8d', '6d7e8f90-a1b2-4c3d-9e4f-5a6b7c8d9e0f', 'http', 2000, ['tcplog', 'forwardfor']],
      ['7e8f90a1-b2c3-4d4e-8f5a-6b7c8d9e0f1a', '90a1b2c3-d4e5-4f6a-9b7c-8d9e0f1a2b3c', 'http', 2000, ['tcplog']],
    ],
  );
  const tls = config.frontends[1]!;
  const certDir = `/var/lib/neutron/lbaas/v2/${lbId}/7e8f90a1-b2c3-4d4e-8f5a-6b7c8d9e0f1a`;
  assert.deepEqual(tls.binds, [
    {
      address: '192.0.2.50',
      port: 443,
      family: 'ipv4',
      raw: '192.0.2.50:443',
      options: ['ssl', 'crt', `${certDir}/www.example.com.pem`, 'crt', certDir],
    },
  ]);
  // `!{ ssl_fc }` survives the comment stripping: '#' only starts a comment, '!' and braces do not.
  assert.deepEqual(tls.extra, ['redirect scheme https if !{ ssl_fc }']);

  assert.deepEqual(
    config.backends.map((b) => [b.poolId, b.listenerId, b.balance, b.servers.map((s) => [s.id, s.address, s.port, s.weight, s.inter, s.fall])]),
    [
      [
        '6d7e8f90-a1b2-4c3d-9e4f-5a6b7c8d9e0f',
        null,
        'roundrobin',
        [
          ['a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d', '192.0.2.11', 82, 13, 30000, 3],
          ['b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e', '192.0.2.12', 82, 13, 30000, 3],
        ],
      ],
      ['90a1b2c3-d4e5-4f6a-9b7c-8d9e0f1a2b3c', null, 'source', [['c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f', '192.0.2.13', 443, 1, 10000, 2]]],
    ],
  );
  assert.equal(config.backends[0]?.healthCheck?.expect, 'rstatus 500|405|404');
  // v2 writes both `option httpchk` and `option ssl-hello-chk` for HTTPS monitors: the last wins.
  assert.deepEqual(config.backends[1]?.healthCheck, {
    type: 'ssl-hello',
    method: 'GET',
    path: '/',
    httpVersion: null,
    expect: 'rstatus 200',
    timeoutCheck: 5000,
  });
  assert.deepEqual(config.backends[1]?.extra, ['stick-table type ip size 10k', 'stick on src']);
  assert.deepEqual(config.unknown, []);
});

test('Octavia haproxy.cfg: <pool>:<listener> backends, peers, IPv6, L7 use_backend, external check', () => {
  const config = parseHaproxyConfig(fixture('lbaas-octavia-haproxy.cfg'));
  assert.equal(config.loadBalancerId, '0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a');
  assert.equal(config.global.user, 'nobody');
  assert.equal(config.global.group, null, 'the agent strips group; it comes from the -f snippet');
  assert.deepEqual(config.peers, [
    {
      name: '0d1e2f3a4b5c4d6e8f7a9b0c1d2e3f4a_peers',
      line: 25,
      peers: [
        { name: 'l9Xvq3yZ1aJ0d5p7Kx2mQw8HcTs', address: '192.0.2.101', port: 1025 },
        { name: 'Jq2w8Kx0mZp3Lr5Tn7Vb9Yc1Hd4', address: '192.0.2.102', port: 1025 },
      ],
      extra: [],
    },
  ]);
  const [http, tcp6] = config.frontends;
  assert.equal(http?.defaultBackend, 'a7b8c9d0-e1f2-4a3b-9c4d-5e6f7a8b9c0d:e4f5a6b7-c8d9-4e0f-9a1b-2c3d4e5f6a7b');
  assert.deepEqual(http?.useBackends, [
    {
      backend: 'f6a7b8c9-d0e1-4f2a-8b3c-4d5e6f7a8b9c:e4f5a6b7-c8d9-4e0f-9a1b-2c3d4e5f6a7b',
      condition: 'if 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
    },
  ]);
  assert.deepEqual(http?.timeouts, { client: 50000 });
  assert.deepEqual(tcp6?.binds, [
    { address: '2001:db8::80', port: 8443, family: 'ipv6', raw: '2001:db8::80:8443', options: [] },
  ]);
  assert.equal(tcp6?.mode, 'tcp');

  assert.deepEqual(
    config.backends.map((b) => [b.poolId, b.listenerId, b.healthCheck?.type, b.servers.length]),
    [
      ['a7b8c9d0-e1f2-4a3b-9c4d-5e6f7a8b9c0d', 'e4f5a6b7-c8d9-4e0f-9a1b-2c3d4e5f6a7b', 'http', 2],
      ['f6a7b8c9-d0e1-4f2a-8b3c-4d5e6f7a8b9c', 'e4f5a6b7-c8d9-4e0f-9a1b-2c3d4e5f6a7b', 'http', 1],
      ['c9d0e1f2-a3b4-4c5d-9e6f-7a8b9c0d1e2f', 'b8c9d0e1-f2a3-4b4c-8d5e-6f7a8b9c0d1e', 'external', 1],
    ],
  );
  assert.deepEqual(config.backends[0]?.healthCheck, {
    type: 'http',
    method: 'GET',
    path: '/index.html',
    httpVersion: 'HTTP/1.0\\r\\n',
    expect: 'rstatus 418',
    timeoutCheck: 31000,
  });
  // The escaped blank in `Host:\ www.example.com` belongs to one word.
  assert.equal(config.backends[1]?.healthCheck?.httpVersion, 'HTTP/1.1\\r\\nHost: www.example.com');
  assert.deepEqual(config.backends[0]?.servers[1], server({
    id: 'e1f2a3b4-c5d6-4e7f-9a8b-9c0d1e2f3a4b',
    address: '192.0.2.22',
    port: 82,
    weight: 13,
    check: true,
    inter: 30000,
    fall: 3,
    rise: 2,
    backup: true,
    cookie: 'e1f2a3b4-c5d6-4e7f-9a8b-9c0d1e2f3a4b',
    line: 58,
  }));
  assert.equal(config.backends[1]?.servers[0]?.disabled, true);
  assert.deepEqual(config.backends[2]?.servers[0], server({
    id: 'a3b4c5d6-e7f8-4a9b-9c0d-1e2f3a4b5c6d',
    address: '2001:db8::31',
    port: 8443,
    family: 'ipv6',
    weight: 1,
    check: true,
    inter: 5000,
    fall: 3,
    rise: 2,
    extra: ['addr', '192.0.2.99', 'port', '9000', 'send-proxy'],
    line: 84,
  }));
  assert.deepEqual(config.unknown, []);
});

test('the Octavia user-group snippet is a config with only a global section', () => {
  const snippet = parseHaproxyConfig(fixture('lbaas-octavia-user-group.conf'));
  assert.equal(snippet.global.group, 'nogroup');
  assert.deepEqual([snippet.frontends, snippet.backends, snippet.unknown], [[], [], []]);
});

test('tabs, spaces, mixed indentation and CRLF give the same result', () => {
  const tabs = fixture('lbaas-v1-pool.conf');
  const spaces = tabs.replaceAll('\t', '    ');
  const mixed = tabs
    .split('\n')
    .map((line, i) => (i % 2 ? line.replace(/^\t/, ' \t  ') : line))
    .join('\r\n');
  const expected = parseHaproxyConfig(tabs);
  assert.deepEqual(parseHaproxyConfig(spaces), expected);
  assert.deepEqual(parseHaproxyConfig(mixed), expected);
  // Words inside a line may be separated by tabs too.
  const inner = parseHaproxyConfig('backend p\n\tserver\tm1\t10.0.0.1:80\tweight\t3\tcheck\n');
  assert.equal(inner.backends[0]?.servers[0]?.weight, 3);
  assert.equal(inner.backends[0]?.servers[0]?.check, true);
});

test('comments: whole-line, trailing, and escaped #', () => {
  const config = parseHaproxyConfig(
    [
      '# a comment',
      '   # an indented comment',
      'frontend f1',
      '    mode http                      # HTTP->http, TCP->tcp',
      '    bind 10.0.0.2:80 # the VIP',
      '    default_backend p1',
      'backend p1',
      '    option httpchk GET /a\\#b',
      '    server m1 10.0.0.3:80 check # member',
    ].join('\n'),
  );
  assert.equal(config.frontends[0]?.mode, 'http');
  assert.deepEqual(config.frontends[0]?.binds.map((b) => b.raw), ['10.0.0.2:80']);
  assert.equal(config.backends[0]?.healthCheck?.path, '/a#b');
  assert.deepEqual(config.backends[0]?.servers[0]?.extra, []);
  assert.deepEqual(config.unknown, []);
});

test('unknown keywords, unmodelled sections and stray lines are kept, never fatal', () => {
  const text = [
    'stray words before any section',
    'global',
    '    daemon',
    '    tune.ssl.default-dh-param 2048',
    '    frobnicate yes',
    'userlist admins',
    '    user admin insecure-password secret',
    'frontend f1',
    '    bind :80',
    '    reqadd X-Forwarded-Proto:\\ http',
    '    default_backend p1',
    'backend p1',
    '    balanse roundrobin',
    '    appsession JSESSIONID len 56 timeout 3h',
    '    server m1 10.0.0.3:80 check',
  ].join('\n');
  const config = parseHaproxyConfig(text);
  assert.deepEqual(config.unknown, [
    { section: '(none)', line: 1, text: 'stray words before any section' },
    { section: 'global', line: 5, text: 'frobnicate yes' },
    { section: 'userlist admins', line: 6, text: 'userlist admins' },
    { section: 'userlist admins', line: 7, text: 'user admin insecure-password secret' },
    { section: 'frontend f1', line: 10, text: 'reqadd X-Forwarded-Proto:\\ http' },
    { section: 'backend p1', line: 13, text: 'balanse roundrobin' },
    { section: 'backend p1', line: 14, text: 'appsession JSESSIONID len 56 timeout 3h' },
  ]);
  // Known-but-untyped and unknown lines stay in their section's extra, so extra is complete.
  assert.deepEqual(config.global.extra, ['tune.ssl.default-dh-param 2048', 'frobnicate yes']);
  assert.deepEqual(config.frontends[0]?.extra, ['reqadd X-Forwarded-Proto:\\ http']);
  assert.equal(config.backends[0]?.balance, null);
  assert.equal(config.backends[0]?.servers.length, 1);
  // A keyword in the wrong kind of section is kept and reported.
  const misplaced = parseHaproxyConfig('frontend f1\n    server m1 10.0.0.1:80\n    bind :80\n');
  assert.deepEqual(misplaced.unknown, [{ section: 'frontend f1', line: 2, text: 'server m1 10.0.0.1:80' }]);
});

test('text that is not a haproxy config is refused with a parse error naming the file', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['binary', '\u0000\u0001ELF\u0002\u0000garbage', /binary content/],
    ['invalid utf-8', Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0x80, 0x81, 0x82]).toString('utf8'), /binary content/],
    ['json', JSON.stringify({ global: { daemon: true }, frontend: ['f1'] }, null, 2), /no haproxy section/],
    ['empty', '\n\n   \n', /empty/],
    ['prose', 'hello world\nthis is not a config\n', /no haproxy section/],
    ['python', 'def f():\n    global counter\n    counter += 1\n', /no haproxy section/],
  ];
  for (const [label, text, message] of cases) {
    assert.throws(
      () => parseHaproxyConfig(text, { source: '/var/lib/neutron/lbaas/x/conf' }),
      (error: unknown) => {
        assert.ok(error instanceof DiscoveryError, label);
        assert.equal(error.kind, 'parse', label);
        assert.deepEqual(error.source, ['/var/lib/neutron/lbaas/x/conf'], label);
        assert.match(error.message, /^\/var\/lib\/neutron\/lbaas\/x\/conf: not a haproxy config: /, label);
        assert.match(error.message, message, label);
        return true;
      },
    );
  }
  assert.throws(() => parseHaproxyConfig('{}'), (error: unknown) => error instanceof DiscoveryError && error.source[0] === 'haproxy config');
});

test('bind and server address forms: IPv6, wildcards, prefixes, unix sockets, lists and ranges', () => {
  assert.deepEqual(parseHaproxyAddress('[::]:80'), { address: '::', port: 80, family: 'ipv6' });
  assert.deepEqual(parseHaproxyAddress(':::80'), { address: '::', port: 80, family: 'ipv6' });
  assert.deepEqual(parseHaproxyAddress(':80'), { address: '0.0.0.0', port: 80, family: 'ipv4' });
  assert.deepEqual(parseHaproxyAddress('*:80'), { address: '0.0.0.0', port: 80, family: 'ipv4' });
  assert.deepEqual(parseHaproxyAddress('ipv6@:80'), { address: '::', port: 80, family: 'ipv6' });
  assert.deepEqual(parseHaproxyAddress('ipv4@10.0.0.1:80'), { address: '10.0.0.1', port: 80, family: 'ipv4' });
  assert.deepEqual(parseHaproxyAddress('[2001:db8::1]:443'), { address: '2001:db8::1', port: 443, family: 'ipv6' });
  assert.deepEqual(parseHaproxyAddress('2001:db8::1:443'), { address: '2001:db8::1', port: 443, family: 'ipv6' });
  assert.deepEqual(parseHaproxyAddress('/run/haproxy.sock'), { address: '/run/haproxy.sock', port: null, family: 'unix' });
  assert.deepEqual(parseHaproxyAddress('unix@/run/x.sock'), { address: '/run/x.sock', port: null, family: 'unix' });
  assert.deepEqual(parseHaproxyAddress('10.0.0.1:8000-8010'), { address: '10.0.0.1', port: null, family: 'ipv4' });
  assert.deepEqual(parseHaproxyAddress('10.0.0.1'), { address: '10.0.0.1', port: null, family: 'ipv4' });
  assert.deepEqual(parseHaproxyAddress('backend1.example.com:80'), { address: 'backend1.example.com', port: 80, family: 'name' });

  const config = parseHaproxyConfig('frontend f1\n    bind 10.0.0.1:80,[::1]:81 ssl crt /c.pem\n');
  assert.deepEqual(config.frontends[0]?.binds, [
    { address: '10.0.0.1', port: 80, family: 'ipv4', raw: '10.0.0.1:80', options: ['ssl', 'crt', '/c.pem'] },
    { address: '::1', port: 81, family: 'ipv6', raw: '[::1]:81', options: ['ssl', 'crt', '/c.pem'] },
  ]);
});

test('time values and counts', () => {
  assert.equal(parseHaproxyTimeMs('3s'), 3000);
  assert.equal(parseHaproxyTimeMs('1000'), 1000);
  assert.equal(parseHaproxyTimeMs('500ms'), 500);
  assert.equal(parseHaproxyTimeMs('2m'), 120000);
  assert.equal(parseHaproxyTimeMs('1h'), 3600000);
  assert.equal(parseHaproxyTimeMs('1d'), 86400000);
  assert.equal(parseHaproxyTimeMs('1500us'), 1.5);
  assert.equal(parseHaproxyTimeMs('3 s'), null);
  assert.equal(parseHaproxyTimeMs('fast'), null);
  const config = parseHaproxyConfig(
    'backend p1\n    server a 10.0.0.1:80 check inter 500ms fall 2 rise 5\n    server b 10.0.0.2:80 check inter 2000 fall x\n',
  );
  assert.deepEqual(config.backends[0]?.servers.map((s) => [s.inter, s.fall, s.rise]), [
    [500, 2, 5],
    [2000, null, null],
  ]);
});

test('listen sections, defaults inheritance, disabled proxies and health-check fallbacks', () => {
  const config = parseHaproxyConfig(
    [
      'defaults',
      '    mode http',
      '    timeout connect 5s',
      'listen stats',
      '    bind 127.0.0.1:8404',
      '    stats enable',
      'listen legacy 10.0.0.9:8080',
      '    mode tcp',
      '    server m1 10.0.0.10:8080 check',
      'frontend off',
      '    bind :81',
      '    disabled',
      'backend plain',
      '    server m2 10.0.0.11:80',
      'backend p2',
      '    option tcp-check',
      '    server m3 10.0.0.12:80 check backup disabled',
    ].join('\n'),
  );
  assert.deepEqual(config.frontends.map((f) => [f.name, f.kind, f.mode, f.disabled, f.binds.map((b) => b.raw)]), [
    ['stats', 'listen', 'http', false, ['127.0.0.1:8404']],
    ['legacy', 'listen', 'tcp', false, ['10.0.0.9:8080']],
    ['off', 'frontend', 'http', true, [':81']],
  ]);
  assert.deepEqual(config.backends.map((b) => [b.name, b.kind, b.mode, b.healthCheck?.type ?? null, b.servers.length]), [
    ['stats', 'listen', 'http', null, 0],
    ['legacy', 'listen', 'tcp', 'connect', 1],
    ['plain', 'backend', 'http', null, 1],
    ['p2', 'backend', 'http', 'tcp-check', 1],
  ]);
  assert.deepEqual(
    [config.backends[3]?.servers[0]?.backup, config.backends[3]?.servers[0]?.disabled],
    [true, true],
  );
  assert.deepEqual(config.defaults[0]?.timeouts, { connect: 5000 });
});

test('loadBalancerId is taken only from a first-line comment carrying a UUID', () => {
  const id = '2f8e4b6a-1c3d-4e5f-9a7b-8c9d0e1f2a3b';
  assert.equal(parseHaproxyConfig(`# Configuration for ${id}\nglobal\n`).loadBalancerId, id);
  assert.equal(parseHaproxyConfig(`# Configuration for loadbalancer ${id}\nglobal\n`).loadBalancerId, id);
  // A template revision wrote the LB name there; a name is not an id.
  assert.equal(parseHaproxyConfig('# Configuration for test-lb\nglobal\n').loadBalancerId, null);
  assert.equal(parseHaproxyConfig(`global\n# Configuration for ${id}\n`).loadBalancerId, null);
});

test('tokenizer: quotes and escapes', () => {
  assert.deepEqual(tokenizeHaproxyLine('log-format "%ci %cp" x'), ['log-format', '%ci %cp', 'x']);
  assert.deepEqual(tokenizeHaproxyLine("a 'b # c' d # e"), ['a', 'b # c', 'd']);
  assert.deepEqual(tokenizeHaproxyLine('a\\ b c\\\\d'), ['a b', 'c\\d']);
  assert.deepEqual(tokenizeHaproxyLine('GET /x HTTP/1.0\\r\\n'), ['GET', '/x', 'HTTP/1.0\\r\\n']);
});
