import type { SwitchboardModule } from '../../core/module.js';
import { AuditLog } from './audit.js';
import { installConsoleChannels } from './channels.js';
import { ClusterConnections } from './cluster.js';
import { DEFAULT_INTERVAL_MS, NodeSampler, OpsFeed } from './feed.js';
import { consoleMigrations } from './migrations.js';
import { consoleRoutes } from './routes.js';
import { ConsoleService } from './service.js';
import './schema.js';

export { OPS_CHANNEL, SAMPLE_EVENT, quantileFromBuckets, type NodeSample, type OpsSnapshot } from './feed.js';
export { auditChannel, AUDIT_EVENT, type AuditEntry } from './audit.js';
export { TEST_EVENT, SIGNED_OUT_REASON } from './service.js';

export interface ConsoleOptions {
  /** How often the node publishes its figures on `ops:node` (default 1000 ms). */
  feedIntervalMs?: number;
}

/**
 * The operator's console (admins): the node's figures live on `ops:node`, the channels and
 * connections of the admin's tenant on every node, a test publish with the channel's history, ending a
 * user's sessions, and an audit log of every action taken, live on `audit:<tenant>`.
 */
export function createConsoleModule(options: ConsoleOptions = {}): SwitchboardModule {
  return {
    name: 'console',
    requires: ['accounts'],
    migrations: consoleMigrations,
    async install({ sb, api, domain, log }) {
      const { db } = domain;
      // The outbox's backlog, as /metrics reports it: unsent rows of every node sharing the database.
      const outboxPending = async () => Number((await db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).where('sent_at', 'is', null).executeTakeFirstOrThrow()).n);
      const feed = new OpsFeed(sb, new NodeSampler(sb, outboxPending), log, options.feedIntervalMs ?? DEFAULT_INTERVAL_MS);
      installConsoleChannels(sb, db, feed);
      const audit = new AuditLog(sb, db, log);
      const cluster = new ClusterConnections(sb, log, () => feed.recentNodes());
      await cluster.start();
      const service = new ConsoleService(sb, db, audit, cluster);
      consoleRoutes(api, service, audit);
      await feed.start();
      sb.onClose(() => feed.stop());
      return service;
    },
    async reset({ trx }) {
      await trx.deleteFrom('console_audit_log').execute();
    },
  };
}

export const consoleModule: SwitchboardModule = createConsoleModule();
