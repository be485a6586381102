#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, describeSettings, loadConfig, type Config } from './core/config.js';
import { keptSecret, TokenService } from './core/auth/tokens.js';
import { createApp, migrationSources, reseedModules } from './app.js';
import { openConfiguredDatabase, DatabaseUnavailableError, type Database } from './core/db/database.js';
import { migrateToLatest } from './core/db/migrate.js';
import { createLogger } from './core/logger.js';
import { builtinModules } from './modules/index.js';
import { presentDemoAccounts, type DemoAccount } from './modules/accounts/seed.js';
import { RedisUnreachableError } from './core/layer/redis-connection.js';

const USAGE = `usage: switchboard <command> [flags]

commands:
  serve                         run a node (default port 8000); migrates the database first
  migrate                       bring the database schema up to date, then exit
  seed [--force]                delete all accounts, catalogue, carts and orders and load the demo data
  token --user ID [--role ROLE] [--tenant T] [--ttl SECONDS]
                                mint a token signed with the node's secret (0 ttl: no expiry)
  help                          this text

serve flags (each also read from its environment variable):
${describeSettings()
  .map((s) => `  ${s.flag.padEnd(30)}${s.env}`)
  .join('\n')}
`;

/** `--name value` and `--name=value`; a flag with no value is 'true'. */
export function parseFlags(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new ConfigError([`unexpected argument '${arg}'`]);
    const eq = arg.indexOf('=');
    if (eq > 0) flags[arg.slice(2, eq)] = arg.slice(eq + 1);
    else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('--')) flags[arg.slice(2)] = args[++i]!;
    else flags[arg.slice(2)] = 'true';
  }
  return flags;
}

/** The web app's build beside this server: dist/src/cli.js -> web/dist. */
const BUNDLED_WEB_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** Where the web app is served from: SWITCHBOARD_WEB_DIR, else the bundled build; 'none': API only. */
function webRoot(config: Config): string | null {
  if (config.webDir === 'none') return null;
  return config.webDir ?? BUNDLED_WEB_DIR;
}

async function serve(flags: Record<string, string>): Promise<void> {
  const config = loadConfig(process.env, flags);
  const root = webRoot(config);
  const app = await createApp({ config, web: root === null ? null : { root }, crashAfterCommit: config.env === 'test' && process.env.SWITCHBOARD_TEST_FAULT === 'crash-after-commit' });
  const { sb } = app;
  const { url } = await sb.listen();
  sb.log.info({ url, env: config.env, layer: config.redisUrl ? 'redis' : 'memory', database: app.database.where, migrations: app.migrations, web: root }, `Switchboard listening on ${url}`);
  // Said at start, not only on the page: the node serves the API either way.
  if (root !== null && !existsSync(join(root, 'index.html'))) {
    sb.log.warn({ web: root }, 'the web app is not built: `/` shows how to build it (npm run build:web)');
  }
  // Every development start, not only the first: the accounts are how a newcomer gets in.
  if (config.demoData) {
    const accounts = await presentDemoAccounts(app.domain);
    if (accounts.length > 0) printDemo(accounts, url);
  }
  if (config.env !== 'production') {
    sb.log.info({ apiKeyFile: `${config.dataDir}/api-key` }, 'dev: sign in with POST /api/auth/login, or mint a token with `npx switchboard token --user alice --role customer`');
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    sb.log.info({ signal }, 'shutting down: closing connections with 4000 so clients reconnect elsewhere');
    sb.close().then(
      () => process.exit(0),
      (err: unknown) => {
        sb.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function printDemo(accounts: DemoAccount[], url: string): void {
  const lines = accounts.map((a) => `  ${a.role.padEnd(9)} ${a.email.padEnd(22)} password: ${a.password}`);
  process.stdout.write(`\nDemo accounts (sign in at ${url}):\n${lines.join('\n')}\n\n`);
}

/** Opens the configured database, brings its schema up to date, runs `work`, and closes it. */
async function withMigratedDatabase(config: Config, work: (database: Database, applied: string[]) => Promise<void>): Promise<void> {
  const database = await openConfiguredDatabase(config);
  try {
    await work(database, (await migrateToLatest(database, migrationSources(builtinModules))).applied);
  } finally {
    await database.close();
  }
}

async function migrate(flags: Record<string, string>): Promise<void> {
  await withMigratedDatabase(loadConfig(process.env, flags), async (database, applied) => {
    process.stdout.write(applied.length > 0 ? `applied ${applied.join(', ')} to ${database.where}\n` : `${database.where} is up to date\n`);
  });
}

async function seed(flags: Record<string, string>): Promise<void> {
  const { force, ...rest } = flags;
  const config = loadConfig(process.env, rest);
  if (config.env === 'production' && force !== 'true') throw new ConfigError(['seed deletes every account and order; in production it needs --force']);
  await withMigratedDatabase(config, async (database) => {
    const secret = await keptSecret(config.jwtSecret, config.dataDir, 'jwt-secret');
    const log = createLogger(config.logLevel);
    // Events the seed writes go out when a node's dispatcher next polls the outbox.
    const domain = { database, db: database.db, tokens: new TokenService(secret.value), log, wakeOutbox: () => {}, crashAfterCommit: false };
    await reseedModules(builtinModules, domain, config, log);
    process.stdout.write(`demo data loaded into ${database.where}\n`);
    printDemo(await presentDemoAccounts(domain), `http://localhost:${config.port}`);
  });
}

async function token(flags: Record<string, string>): Promise<void> {
  const { user, role = 'customer', tenant, ttl = '3600', ...rest } = flags;
  if (!user) throw new ConfigError(['--user is required (the user id the token is for)']);
  const ttlSeconds = Number(ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0) throw new ConfigError([`--ttl must be a whole number of seconds (got '${ttl}')`]);
  const config = loadConfig(process.env, rest);
  const secret = await keptSecret(config.jwtSecret, config.dataDir, 'jwt-secret');
  const options = tenant ? { user, role, tenant, ttlSeconds } : { user, role, ttlSeconds };
  process.stdout.write(`${await new TokenService(secret.value).mint(options)}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command = 'help', ...args] = argv;
  if (command === 'help' || command === '--help') {
    process.stdout.write(USAGE);
    return;
  }
  const flags = parseFlags(args);
  // `serve --help` (docs/configuration.md) prints the usage rather than failing on an unknown flag.
  if (flags.help === 'true' && (command === 'serve' || command === 'token' || command === 'migrate' || command === 'seed')) {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'serve') return serve(flags);
  if (command === 'token') return token(flags);
  if (command === 'migrate') return migrate(flags);
  if (command === 'seed') return seed(flags);
  throw new ConfigError([`unknown command '${command}'`]);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`switchboard: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  // A setting that names a service which is not there is a configuration problem too: exit 2.
  if (err instanceof DatabaseUnavailableError || err instanceof RedisUnreachableError) {
    process.stderr.write(`switchboard: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`switchboard: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
