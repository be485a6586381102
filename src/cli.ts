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
import { sessionFor } from './modules/accounts/accounts.js';
import { RedisUnreachableError } from './core/layer/redis-connection.js';
import type { Domain } from './core/domain/context.js';
import { CommandError } from './cli/command-error.js';
import { listen } from './cli/listen.js';

const USAGE = `usage: switchboard <command> [flags]

commands:
  serve                         run a node (default port 8000); migrates the database first
  migrate                       bring the database schema up to date, then exit
  seed [--force]                delete all accounts, catalogue, carts and orders and load the demo data
  demo-accounts                 list the demo accounts (one per role) and their passwords, if the database has them
  token --email E               mint a token for an existing account, as a login would (12 h; REST and channels take it)
  token --user ID [--role ROLE] [--tenant T] [--ttl SECONDS]
                                mint a token for any user id (0 ttl: no expiry); for channels only: REST answers
                                401 to it unless it names an account (its id, role and tenant)
  listen <channel> (--as ROLE | --email E --password P | --token T) [--url URL]
                                sign in to a running node, subscribe, and print the snapshot and every event
                                until Ctrl-C. <channel>: cart (your cart), orders (your role's order feed),
                                my-orders, worker-orders, staff-orders, alerts, user, tenant, a full name
                                (order:ord_...), or an alias path (/ws/cart/). --as: customer, worker, manager
                                or admin (the demo accounts). --url: default SWITCHBOARD_URL, else
                                http://localhost:8000
  help                          this text

migrate, seed, demo-accounts and token take serve's flags and variables (the data folder,
DATABASE_URL, SWITCHBOARD_JWT_SECRET) to find the database and the secret.

serve flags (each also read from its environment variable):
${describeSettings()
  .map((s) => `  ${s.flag.padEnd(29)} ${s.env}`)
  .join('\n')}
`;

/** `--name value` and `--name=value` (a flag with no value is 'true'), and the words that are not
 * a flag's value (`listen cart`). */
export function parseArgs(args: string[]): { flags: Record<string, string>; positionals: string[] } {
  const flags: Record<string, string> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) flags[arg.slice(2, eq)] = arg.slice(eq + 1);
    else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('--')) flags[arg.slice(2)] = args[++i]!;
    else flags[arg.slice(2)] = 'true';
  }
  return { flags, positionals };
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
    sb.log.info({ apiKeyFile: `${config.dataDir}/api-key` }, 'dev: sign in with POST /api/auth/login (or mint a token: `node dist/src/cli.js token --email customer@demo.test`); watch a channel: `node dist/src/cli.js listen cart --as customer`');
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

/** The configured database, migrated, as the modules' services see it. */
async function withDomain(config: Config, work: (domain: Domain) => Promise<void>): Promise<void> {
  await withMigratedDatabase(config, async (database) => {
    const secret = await keptSecret(config.jwtSecret, config.dataDir, 'jwt-secret');
    // Events written here go out when a node's dispatcher next polls the outbox.
    await work({ database, db: database.db, tokens: new TokenService(secret.value), log: createLogger(config.logLevel), wakeOutbox: () => {}, crashAfterCommit: false });
  });
}

/** Commands that read accounts say so, rather than create an empty SQLite file (or fail on a
 * missing folder) in a clone where no node has run yet. */
function databaseMissing(config: Config): string | null {
  if (config.databaseUrl) return null;
  const file = join(config.dataDir, 'switchboard.db');
  return existsSync(file) ? null : `there is no database at ${file} yet: \`npm start\` creates it with the demo data (or run \`switchboard seed\`)`;
}

async function seed(flags: Record<string, string>): Promise<void> {
  const { force, ...rest } = flags;
  const config = loadConfig(process.env, rest);
  if (config.env === 'production' && force !== 'true') throw new ConfigError(['seed deletes every account and order; in production it needs --force']);
  await withDomain(config, async (domain) => {
    await reseedModules(builtinModules, domain, config, domain.log);
    process.stdout.write(`demo data loaded into ${domain.database.where}\n`);
    printDemo(await presentDemoAccounts(domain), `http://localhost:${config.port}`);
  });
}

async function demoAccounts(flags: Record<string, string>): Promise<void> {
  const config = loadConfig(process.env, flags);
  const missing = databaseMissing(config);
  if (missing) {
    process.stdout.write(`No demo accounts: ${missing}.\n`);
    return;
  }
  await withDomain(config, async (domain) => {
    const accounts = await presentDemoAccounts(domain);
    if (accounts.length > 0) {
      printDemo(accounts, `http://localhost:${config.port}`);
      return;
    }
    process.stdout.write(
      `No demo accounts in ${domain.database.where}. A development node loads them when it starts on an empty database; ` +
        '`switchboard seed` loads them into this one (it deletes every account, product, cart and order first).\n',
    );
  });
}

const USER_TOKEN_NOTICE =
  'note: this token is for channels (WebSocket) only: REST answers 401 to it unless it names an account (its id, role and tenant). ' +
  'For a token REST accepts: `switchboard token --email <account email>`, or POST /api/auth/login.\n';

async function token(flags: Record<string, string>): Promise<void> {
  const { user, role = 'customer', tenant, ttl = '3600', email, ...rest } = flags;
  if (email !== undefined) return accountToken(email, flags, rest);
  if (!user) throw new ConfigError(['--user is required (the user id the token is for), or --email for an account\'s token']);
  const ttlSeconds = Number(ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0) throw new ConfigError([`--ttl must be a whole number of seconds (got '${ttl}')`]);
  const config = loadConfig(process.env, rest);
  const secret = await keptSecret(config.jwtSecret, config.dataDir, 'jwt-secret');
  const options = tenant ? { user, role, tenant, ttlSeconds } : { user, role, ttlSeconds };
  process.stdout.write(`${await new TokenService(secret.value).mint(options)}\n`);
  process.stderr.write(USER_TOKEN_NOTICE);
}

/** `token --email E`: the account's own token, as POST /api/auth/login would mint it. */
async function accountToken(email: string, flags: Record<string, string>, rest: Record<string, string>): Promise<void> {
  if (email === 'true' || email === '') throw new ConfigError(['--email needs the email of an account']);
  const extra = ['user', 'role', 'tenant', 'ttl'].filter((name) => flags[name] !== undefined).map((name) => `--${name}`);
  if (extra.length > 0) throw new ConfigError([`--email mints the account's own token (its id, role and tenant; 12 h, as a login does): drop ${extra.join(', ')}`]);
  const config = loadConfig(process.env, rest);
  const missing = databaseMissing(config);
  if (missing) throw new CommandError(`cannot look up ${email}: ${missing}`);
  await withDomain(config, async (domain) => {
    const row = await domain.db.selectFrom('users').select(['id', 'disabled_at']).where('email', '=', email.toLowerCase()).where('deleted_at', 'is', null).executeTakeFirst();
    if (!row) throw new CommandError(`no account with the email ${email} in ${domain.database.where} (\`switchboard demo-accounts\` lists the demo ones)`);
    if (row.disabled_at !== null) throw new CommandError(`the account ${email} is disabled, so REST and channels would refuse its token: an admin of its tenant can enable it (PATCH /api/users/:id)`);
    const session = await sessionFor(domain, row.id);
    process.stdout.write(`${session.token}\n`);
    process.stderr.write(`a token for ${session.user.email} (${session.user.id}, ${session.user.role} of ${session.user.tenant.slug}) until ${session.expiresAt}: REST and channels accept it\n`);
  });
}

const COMMANDS = ['serve', 'migrate', 'seed', 'demo-accounts', 'token', 'listen'];

async function main(argv: string[]): Promise<void> {
  const [command = 'help', ...args] = argv;
  if (command === 'help' || command === '--help') {
    process.stdout.write(USAGE);
    return;
  }
  const { flags, positionals } = parseArgs(args);
  // `serve --help` (docs/configuration.md) prints the usage rather than failing on an unknown flag.
  if (flags.help === 'true' && COMMANDS.includes(command)) {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'listen') return listen(positionals, flags, process.env);
  if (positionals.length > 0 && COMMANDS.includes(command)) throw new ConfigError([`unexpected argument '${positionals[0]}'`]);
  if (command === 'serve') return serve(flags);
  if (command === 'token') return token(flags);
  if (command === 'migrate') return migrate(flags);
  if (command === 'seed') return seed(flags);
  if (command === 'demo-accounts') return demoAccounts(flags);
  throw new ConfigError([`unknown command '${command}'`]);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // Said as it is: the message tells what to do, a stack or the usage would bury it.
  if (err instanceof CommandError) {
    process.stderr.write(`switchboard: ${err.message}\n`);
    process.exit(err.exitCode);
  }
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
