import { builtinModules, ConfigError, createApp, loadConfig } from 'switchboard';
import { roomsModule } from './index.js';

/** The shop's modules and the rooms on one node, set up from the environment like `switchboard
 * serve` (PORT, DATABASE_URL, REDIS_URL, SWITCHBOARD_DATA, ...: docs/configuration.md). */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const app = await createApp({ config, modules: [...builtinModules, roomsModule] });
  const { url } = await app.sb.listen();
  app.sb.log.info({ url, migrations: app.migrations }, `Switchboard with team rooms listening on ${url}`);
  const stop = (): void => {
    app.sb.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.sb.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop).once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  // A bad setting says what to set (exit 2); anything else shows its stack.
  const badSetting = err instanceof ConfigError;
  process.stderr.write(`rooms: ${badSetting ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(badSetting ? 2 : 1);
});
