/**
 * What the console reads: the node's figures on `ops:node` and the console's REST answers
 * (docs/api.md, "Console"). The server's types, restated for the browser.
 */

/** One node's figures over one interval (about a second). Rates are per second. */
export interface NodeSample {
  node: string;
  host: string;
  at: string;
  intervalMs: number;
  connections: number;
  subscriptions: number;
  channels: number;
  messagesInPerSec: number;
  messagesOutPerSec: number;
  publicationsPerSec: number;
  deliverP99Ms: number | null;
  loopLagP99Ms: number;
  loopLagMaxMs: number;
  outboxPending: number | null;
  rssBytes: number;
  heapUsedBytes: number;
}

export interface OpsSnapshot {
  samples: NodeSample[];
  windowMs: number;
  intervalMs: number;
}

export type OpsEvents = { sample: NodeSample };

export interface ChannelRow {
  channel: string;
  namespace: string;
  connections: number;
  users: number;
  own: boolean;
  canPublish: boolean;
  canReadHistory: boolean;
}

/** Which nodes answered for the tables (each node reports its own connections). */
export interface Coverage {
  /** The node that served the request. */
  node: string;
  nodes: string[];
  /** Nodes believed alive that did not answer in time: their connections are not in the numbers. */
  missing: string[];
  partial: boolean;
}

export interface ChannelsView {
  at: string;
  coverage: Coverage;
  channels: ChannelRow[];
  more: boolean;
}

export interface ConnectedUser {
  id: string;
  name: string;
  email: string;
  role: 'customer' | 'worker' | 'manager' | 'admin';
  connections: number;
  channels: number;
  since: string;
  nodes: string[];
}

export interface ConnectionsView {
  at: string;
  coverage: Coverage;
  users: ConnectedUser[];
  more: boolean;
}

export interface HistoryPublication {
  event: string;
  data: unknown;
  offset: number;
  time: string;
}

export interface HistoryView {
  channel: string;
  epoch: string;
  offset: number;
  publications: HistoryPublication[];
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: { id: string; name: string; email: string };
  action: 'publish' | 'end_sessions';
  target: string;
  details: Record<string, unknown>;
}

export type AuditEvents = { audit_entry: AuditEntry };

export interface PublishAnswer {
  channel: string;
  event: string;
  epoch: string;
  offset: number;
  audit: AuditEntry;
}

export interface EndSessionsAnswer {
  user: { id: string; name: string; email: string };
  /** Connections it ended, on the nodes that answered. */
  connections: number;
  audit: AuditEntry;
}
