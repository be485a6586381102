import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Publication } from '../../core/layer/channel-layer.js';
import type { LocalConnection, Switchboard } from '../../core/switchboard.js';

/**
 * Who of a tenant is connected to every node, not just the one a REST call landed on (behind a
 * load balancer, each refresh of the console may reach another node). The node asking publishes a
 * question on `console-rpc:ask`; every node listening answers with its own connections of that
 * tenant on `console-rpc:answer.<asker>`; the asker waits for the nodes it knows are alive (those
 * whose samples it saw on `ops:node`), at most a second. A single node answers itself without the
 * layer. Clients can do nothing on `console-rpc` (no rules); nothing is kept in history.
 */
export const RPC_NAMESPACE = 'console-rpc';
const ASK_CHANNEL = `${RPC_NAMESPACE}:ask`;
const answerChannel = (node: string) => `${RPC_NAMESPACE}:answer.${node}`;
/** An answer holds at most this many users (the most connected): a bound on one message's size. */
const MAX_USERS_PER_ANSWER = 2000;
export const GATHER_TIMEOUT_MS = 1000;

/** One user's connections on one node. */
export interface UserOnNode {
  id: string;
  connections: number;
  /** When the oldest of them opened (UTC ISO). */
  since: string;
  /** Channel -> how many of the user's connections follow it. */
  channels: Record<string, number>;
}

export interface NodeAnswer {
  node: string;
  users: UserOnNode[];
  /** Users were left out (over MAX_USERS_PER_ANSWER). */
  more: boolean;
}

export interface Gathered {
  answers: NodeAnswer[];
  /** Nodes believed alive that did not answer in time. */
  missing: string[];
}

interface Ask {
  id: string;
  tenant: string;
  from: string;
}

/** This node's connections of the tenant, by user. */
export function summarize(node: string, connections: readonly LocalConnection[]): NodeAnswer {
  const byUser = new Map<string, UserOnNode>();
  for (const c of connections) {
    let user = byUser.get(c.user.id);
    if (!user) byUser.set(c.user.id, (user = { id: c.user.id, connections: 0, since: c.openedAt, channels: {} }));
    user.connections++;
    if (c.openedAt < user.since) user.since = c.openedAt;
    for (const channel of c.channels) user.channels[channel] = (user.channels[channel] ?? 0) + 1;
  }
  const users = [...byUser.values()].sort((a, b) => b.connections - a.connections);
  return { node, users: users.slice(0, MAX_USERS_PER_ANSWER), more: users.length > MAX_USERS_PER_ANSWER };
}

export class ClusterConnections {
  readonly #sb: Switchboard;
  readonly #log: Logger;
  readonly #liveNodes: () => Promise<string[]>;
  readonly #waiting = new Map<string, { answers: NodeAnswer[]; expected: Set<string>; done: () => void }>();

  /** `liveNodes`: the other nodes believed alive (from the feed). */
  constructor(sb: Switchboard, log: Logger, liveNodes: () => Promise<string[]>) {
    this.#sb = sb;
    this.#log = log;
    this.#liveNodes = liveNodes;
  }

  async start(): Promise<void> {
    // A gap only means answers or questions may be lost: the asker's timeout covers it.
    await this.#sb.listenChannel(ASK_CHANNEL, { publication: (pub) => this.#onAsk(pub), gap: () => {} });
    await this.#sb.listenChannel(answerChannel(this.#sb.nodeId), { publication: (pub) => this.#onAnswer(pub), gap: () => {} });
  }

  #local(tenant: string): NodeAnswer {
    return summarize(this.#sb.nodeId, this.#sb.localConnections((user) => user.tenant === tenant));
  }

  #onAsk(pub: Publication): void {
    const ask = JSON.parse(pub.json) as Ask;
    if (ask.from === this.#sb.nodeId) return; // the asker counts itself without the layer
    this.#sb.publish(answerChannel(ask.from), 'answer', { id: ask.id, ...this.#local(ask.tenant) }).catch((err: unknown) => this.#log.warn({ err }, 'console: answering another node failed'));
  }

  #onAnswer(pub: Publication): void {
    const answer = JSON.parse(pub.json) as NodeAnswer & { id: string };
    const waiting = this.#waiting.get(answer.id);
    if (!waiting) return; // too late
    waiting.answers.push({ node: answer.node, users: answer.users, more: answer.more });
    if ([...waiting.expected].every((node) => waiting.answers.some((a) => a.node === node))) waiting.done();
  }

  /** Every node's connections of `tenant`: this node's at once, the others' as they answer. */
  async gather(tenant: string): Promise<Gathered> {
    const local = this.#local(tenant);
    const others = (await this.#liveNodes().catch(() => [])).filter((node) => node !== this.#sb.nodeId);
    if (others.length === 0) return { answers: [local], missing: [] };
    const id = randomBytes(9).toString('base64url');
    let done = (): void => {};
    const answered = new Promise<void>((resolve) => (done = resolve));
    const waiting = { answers: [] as NodeAnswer[], expected: new Set(others), done };
    this.#waiting.set(id, waiting);
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.#sb.publish(ASK_CHANNEL, 'ask', { id, tenant, from: this.#sb.nodeId } satisfies Ask);
      await Promise.race([answered, new Promise<void>((resolve) => (timer = setTimeout(resolve, GATHER_TIMEOUT_MS)))]);
    } catch (err) {
      this.#log.warn({ err }, 'console: asking the other nodes failed; showing this node only');
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(id);
    }
    return { answers: [local, ...waiting.answers], missing: others.filter((node) => !waiting.answers.some((a) => a.node === node)) };
  }
}
