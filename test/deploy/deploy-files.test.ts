import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultLimits, describeSettings, loadConfig } from '../../src/core/config.js';

/**
 * Cheap checks that keep deploy/ true to the code: the settings it names exist, the image runs the
 * server the build makes, and the proxy keeps WebSockets working. (The files themselves were tried
 * by hand: see "What was verified" in docs/deploy.md.)
 */

/** The repository root: this file runs as dist/test/deploy/deploy-files.test.js. */
const ROOT = new URL('../../../', import.meta.url);
const path = (file: string): string => fileURLToPath(new URL(file, ROOT));
const read = (file: string): string => readFileSync(path(file), 'utf8');

const compose = read('deploy/docker-compose.yml');
const dockerfile = read('deploy/Dockerfile');
const nginx = read('deploy/nginx.conf');
const guide = read('docs/deploy.md');

const settings = new Set(describeSettings().map((s) => s.env));
/** Variables of the node: its own (SWITCHBOARD_*), and the two service URLs. */
const NODE_VARIABLE = /\b(?:SWITCHBOARD_[A-Z0-9_]+|REDIS_URL|DATABASE_URL)\b/g;
/**
 * Settings of the Redis layer, on its branch and not yet in src/config.ts. docs/deploy.md may name
 * them (it says they come with the Redis layer); the compose file does not use them. Once they are
 * in src/config.ts this list changes nothing and can go.
 */
const FROM_REDIS_BRANCH = new Set(['SWITCHBOARD_REDIS_PREFIX', 'SWITCHBOARD_REDIS_TIMEOUT_MS', 'SWITCHBOARD_PRESENCE_TIMEOUT_MS']);

const namesIn = (text: string): string[] => [...new Set(text.match(NODE_VARIABLE) ?? [])].sort();
const ms = (duration: string): number => {
  const m = /^(\d+)(ms|s|m)$/.exec(duration);
  assert.ok(m, `a duration like 20s: ${duration}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
};

void describe('deploy/docker-compose.yml', () => {
  void test('every Switchboard variable it names is a setting of src/config.ts', () => {
    const names = namesIn(compose);
    assert.ok(names.includes('REDIS_URL') && names.includes('DATABASE_URL') && names.includes('SWITCHBOARD_JWT_SECRET'), names.join(' '));
    assert.deepEqual(
      names.filter((n) => !settings.has(n)),
      [],
      'not settings (see describeSettings in src/config.ts)',
    );
  });

  void test('secrets come from the environment or deploy/.env, never from the file', () => {
    for (const secret of ['SWITCHBOARD_JWT_SECRET', 'SWITCHBOARD_API_KEY', 'SWITCHBOARD_SANDBOX_SECRET', 'POSTGRES_PASSWORD']) {
      const values = [...compose.matchAll(new RegExp(`^\\s*${secret}:\\s*(.*)$`, 'gm'))].map((m) => m[1]!);
      assert.ok(values.length > 0, `${secret} is set`);
      for (const value of values) assert.ok(value.startsWith(`\${${secret}:?`), `${secret}: ${value} (must be \${${secret}:?message})`);
    }
    for (const url of compose.match(/postgres:\/\/\S+/g) ?? []) assert.match(url, /^postgres:\/\/[^:]+:\$\{POSTGRES_PASSWORD:\?/, 'the database password is interpolated');
  });

  void test('the services: Redis, PostgreSQL, a one-shot migrate, three nodes, nginx', () => {
    for (const service of ['redis', 'postgres', 'migrate', 'node1', 'node2', 'node3', 'nginx']) assert.match(compose, new RegExp(`^  ${service}:$`, 'm'), service);
    assert.match(compose, /command: \["node", "dist\/src\/cli\.js", "migrate"\]/);
    assert.match(compose, /migrate:\n\s+condition: service_completed_successfully/);
    assert.match(compose, /SWITCHBOARD_ENV: production/);
    assert.match(compose, /fetch\('http:\/\/127\.0\.0\.1:8000\/readyz'\)/, 'nodes report ready, not just alive');
  });

  void test('stop_grace_period leaves room after SWITCHBOARD_SHUTDOWN_GRACE_MS', () => {
    const graceMs = Number(/SWITCHBOARD_SHUTDOWN_GRACE_MS:\s*"?(\d+)/.exec(compose)?.[1] ?? loadConfig({}).shutdownGraceMs);
    const periods = [...compose.matchAll(/stop_grace_period:\s*(\S+)/g)].map((m) => ms(m[1]!));
    assert.ok(periods.length > 0, 'the nodes set stop_grace_period');
    // After the drain: up to 2 s for presence leaves (Redis), in-flight requests, the outbox batch,
    // then closing Redis and the database. SIGKILL before that leaves presence to the timeout.
    for (const period of periods) assert.ok(period >= graceMs + 5000, `stop_grace_period ${period} ms vs grace ${graceMs} ms`);
  });
});

void describe('deploy/Dockerfile', () => {
  // Instructions continued with a backslash, joined to one line each.
  const stages = dockerfile.replace(/\\\n\s*/g, ' ').split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;

  void test('builds on node:20-bookworm-slim, in two stages', () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    assert.equal(stages.length, 2);
    for (const stage of stages) assert.ok(stage.startsWith('${NODE_IMAGE}'), stage.split('\n')[0]);
    assert.match(stages[0]!, /npm ci/);
    assert.match(stages[0]!, /npm run build/);
    assert.match(stages[0]!, /npm prune --omit=dev/);
  });

  void test('the runtime stage runs `node dist/src/cli.js serve` as a non-root user, answering on all interfaces', () => {
    const cmd = /^CMD (.*)$/m.exec(runtime)?.[1];
    assert.ok(cmd, 'a CMD');
    // Exec form with node itself: SIGTERM reaches the server (no shell or npm in between).
    const argv = JSON.parse(cmd) as string[];
    assert.equal(argv[0], 'node');
    assert.deepEqual(argv.slice(-2), ['dist/src/cli.js', 'serve']);
    assert.ok(existsSync(fileURLToPath(new URL('../../src/cli.js', import.meta.url))), 'tsc -b puts the CLI at dist/src/cli.js');
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /HOST=0\.0\.0\.0/);
    assert.match(runtime, /^HEALTHCHECK .*\/healthz/m);
  });

  void test('everything it copies from the build context exists and is not in .dockerignore', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.*)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    assert.ok(sources.includes('src') && sources.includes('package-lock.json'), sources.join(' '));
    for (const source of sources) {
      assert.ok(existsSync(path(source)), `${source} exists`);
      assert.ok(!ignored.includes(source) && !ignored.includes(source.split('/')[0]!), `${source} is not ignored`);
    }
  });
});

void describe('deploy/nginx.conf', () => {
  void test('upgrades WebSockets and passes Host with its port', () => {
    assert.match(nginx, /map \$http_upgrade \$connection_upgrade \{/);
    assert.match(nginx, /^\s*proxy_http_version 1\.1;$/m);
    assert.match(nginx, /^\s*proxy_set_header Upgrade \$http_upgrade;$/m);
    assert.match(nginx, /^\s*proxy_set_header Connection \$connection_upgrade;$/m);
    // The node's same-origin check compares Origin with Host, port included ($host drops it).
    assert.match(nginx, /^\s*proxy_set_header Host \$http_host;$/m);
  });

  void test('proxy_set_header only at server level (a location setting one drops them all)', () => {
    let depth = 0;
    for (const line of nginx.split('\n').map((l) => l.replace(/#.*/, ''))) {
      if (/^\s*proxy_set_header\b/.test(line)) assert.equal(depth, 1, line.trim());
      depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    }
    assert.equal(depth, 0, 'braces balance');
  });

  void test('an idle WebSocket outlives the heartbeat', () => {
    const wsLocation = /location \/ws \{([^}]*)\}/.exec(nginx)?.[1];
    assert.ok(wsLocation, 'a location for /ws');
    const timeout = ms(/proxy_read_timeout (\S+);/.exec(wsLocation)?.[1] ?? 'missing');
    const heartbeat = Number(/SWITCHBOARD_HEARTBEAT_MS:\s*"?(\d+)/.exec(compose)?.[1] ?? defaultLimits.heartbeatMs);
    assert.ok(timeout > 2 * heartbeat, `proxy_read_timeout ${timeout} ms must exceed twice the heartbeat (${heartbeat} ms)`);
  });

  void test('bodies up to the nodes\' 1 MiB limit, and passive health on every node', () => {
    assert.match(nginx, /^\s*client_max_body_size 1m;$/m);
    const servers = [...nginx.matchAll(/^\s*server ([\w.-]+):(\d+)(.*);$/gm)];
    assert.equal(servers.length, 3);
    const port = /PORT=(\d+)/.exec(dockerfile)?.[1];
    for (const [, host, serverPort, options] of servers) {
      assert.match(compose, new RegExp(`^  ${host}:$`, 'm'), `${host} is a compose service`);
      assert.equal(serverPort, port, `${host} listens on the image's PORT`);
      assert.match(options!, /max_fails=\d+ fail_timeout=\d+s/);
    }
  });
});

void describe('docs/deploy.md', () => {
  void test('names only settings that exist (or come with the Redis layer)', () => {
    assert.deepEqual(
      namesIn(guide).filter((n) => !settings.has(n) && !FROM_REDIS_BRANCH.has(n)),
      [],
    );
  });
});
