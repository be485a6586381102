#!/usr/bin/env node
import { ConfigError, describeSettings, loadConfig } from './config.js';
import { installDefaultChannels } from './defaults.js';
import { keptSecret, TokenService } from './auth/tokens.js';
import { RedisUnreachableError } from './layer/redis-connection.js';
import { Switchboard } from './switchboard.js';

const USAGE = `usage: switchboard <command> [flags]

commands:
  serve                         run a node (default port 8000)
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

async function serve(flags: Record<string, string>): Promise<void> {
  const config = loadConfig(process.env, flags);
  const sb = await Switchboard.create({ config });
  installDefaultChannels(sb);
  const { url } = await sb.listen();
  sb.log.info({ url, env: config.env, layer: config.redisUrl ? 'redis' : 'memory', dataDir: config.dataDir }, `Switchboard listening on ${url}`);
  if (config.env !== 'production') {
    sb.log.info({ apiKeyFile: `${config.dataDir}/api-key` }, 'dev: mint a token with `npx switchboard token --user alice --role customer`');
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
  if (flags.help === 'true' && (command === 'serve' || command === 'token')) {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'serve') return serve(flags);
  if (command === 'token') return token(flags);
  throw new ConfigError([`unknown command '${command}'`]);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`switchboard: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  // A setting that names a service which is not there is a configuration problem too: exit 2.
  if (err instanceof RedisUnreachableError) {
    process.stderr.write(`switchboard: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`switchboard: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
