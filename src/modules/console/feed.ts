import { hostname } from 'node:os';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Counter, Histogram } from 'prom-client';
import type { Switchboard } from '../../core/switchboard.js';

/** Where every node publishes its figures, one `sample` a second, tagged with its id. */
export const OPS_CHANNEL = 'ops:node';
export const SAMPLE_EVENT = 'sample';
/** What the console draws, and how long the channel's history keeps samples for a console opened late. */
export const WINDOW_MS = 5 * 60_000;
export const DEFAULT_INTERVAL_MS = 1000;
/** History kept on the channel: five minutes of one sample a second from up to eight nodes. */
export const OPS_HISTORY_SIZE = 8 * (WINDOW_MS / DEFAULT_INTERVAL_MS);
/** A snapshot carries at most this many samples (~300 bytes each): past it, older ones are thinned. */
const MAX_SNAPSHOT_SAMPLES = 1200;
/** How often the loop's lag is measured: a timer this often, late by the lag. */
const LOOP_RESOLUTION_MS = 20;

/**
 * Event-loop lag, per interval: a timer every LOOP_RESOLUTION_MS records how late it ran. Not
 * perf_hooks' monitorEventLoopDelay: resetting that one (to get the interval's figures) forgets its
 * last tick, so the first delay after a reset is never recorded, and a block right after a sample
 * went unseen.
 */
class LoopLag {
  readonly #histogram: RecordableHistogram = createHistogram();
  readonly #timer: NodeJS.Timeout;

  constructor() {
    let previous = performance.now();
    this.#timer = setInterval(() => {
      const now = performance.now();
      // In microseconds (the histogram takes integers of at least 1).
      this.#histogram.record(Math.max(1, Math.round((now - previous - LOOP_RESOLUTION_MS) * 1000)));
      previous = now;
    }, LOOP_RESOLUTION_MS);
    this.#timer.unref();
  }

  /** The interval's 99th percentile and worst lag in ms, and starts the next interval. */
  take(): { p99: number; max: number } {
    const h = this.#histogram;
    const taken = h.count === 0 ? { p99: 0, max: 0 } : { p99: h.percentile(99) / 1000, max: h.max / 1000 };
    h.reset();
    return taken;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** One node's figures over one interval. Rates are per second over the interval; gauges are now. */
export interface NodeSample {
  /** The node's id (its Redis heartbeat id with several nodes). */
  node: string;
  /** `hostname:pid`, for the operator who has to find the process. */
  host: string;
  /** UTC ISO time the sample was taken. */
  at: string;
  /** How long the interval was (about a second; longer when the loop was blocked). */
  intervalMs: number;
  connections: number;
  subscriptions: number;
  /** Channels with a client subscriber on this node. */
  channels: number;
  messagesInPerSec: number;
  messagesOutPerSec: number;
  publicationsPerSec: number;
  /** 99th percentile of publish-to-deliver over the interval, ms (from the histogram's buckets,
   * interpolated as Prometheus does); null when nothing was delivered here. */
  deliverP99Ms: number | null;
  /** Event-loop lag over the interval, ms: 99th percentile and worst. */
  loopLagP99Ms: number;
  loopLagMaxMs: number;
  /** Outbox events committed and not yet published (every node sharing the database); null when
   * the database did not answer. */
  outboxPending: number | null;
  rssBytes: number;
  heapUsedBytes: number;
}

/** What a console gets when it subscribes: the samples of the last five minutes, every node's. */
export interface OpsSnapshot {
  samples: NodeSample[];
  windowMs: number;
  intervalMs: number;
}

/** A quantile from cumulative bucket counts (`counts[i]` = observations <= `bounds[i]`), linear
 * within the bucket it falls in, as Prometheus's histogram_quantile; the +Inf bucket answers its
 * lower bound. Null with no observations. */
export function quantileFromBuckets(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (count < rank) continue;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    const upper = bounds[i]!;
    if (!Number.isFinite(upper)) return lower;
    const below = i === 0 ? 0 : counts[i - 1]!;
    return count === below ? upper : lower + ((upper - lower) * (rank - below)) / (count - below);
  }
  return bounds.at(-2) ?? null;
}

async function counterTotal(counter: Counter): Promise<number> {
  const { values } = await counter.get();
  let total = 0;
  for (const v of values) total += v.value;
  return total;
}

/** The histogram's cumulative bucket counts, by upper bound (ascending, +Inf last). */
async function bucketCounts(histogram: Histogram): Promise<{ bounds: number[]; counts: number[] }> {
  const { values } = await histogram.get();
  const buckets = values
    .filter((v) => v.metricName?.endsWith('_bucket'))
    .map((v) => ({ bound: v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), count: v.value }))
    .sort((a, b) => a.bound - b.bound);
  return { bounds: buckets.map((b) => b.bound), counts: buckets.map((b) => b.count) };
}

interface Totals {
  at: number;
  messagesIn: number;
  messagesOut: number;
  publications: number;
  deliverCounts: number[];
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Reads the node's figures: the gauges as they are, the counters and the delivery histogram as
 * the difference from the previous sample, the loop lag from a timer of its own (LoopLag) every
 * sample. What `/metrics` exposes, turned into "now" numbers a person can read.
 */
export class NodeSampler {
  readonly #sb: Switchboard;
  readonly #outboxPending: () => Promise<number>;
  readonly #loop = new LoopLag();
  readonly #host = `${hostname()}:${process.pid}`;
  #bounds: number[] = [];
  #last: Totals | null = null;

  constructor(sb: Switchboard, outboxPending: () => Promise<number>) {
    this.#sb = sb;
    this.#outboxPending = outboxPending;
  }

  async #totals(): Promise<Totals> {
    const { metrics } = this.#sb;
    const deliver = await bucketCounts(metrics.deliveryLatency);
    this.#bounds = deliver.bounds;
    return {
      at: Date.now(),
      messagesIn: await counterTotal(metrics.messagesIn),
      messagesOut: await counterTotal(metrics.messagesOut),
      publications: await counterTotal(metrics.publications),
      deliverCounts: deliver.counts,
    };
  }

  /** The sample of the interval since the previous call (or `prime`); a first call without either
   * has only the gauges, its rates are 0. */
  async sample(): Promise<NodeSample> {
    const now = await this.#totals();
    const first = this.#last === null;
    const before = this.#last ?? now;
    this.#last = now;
    const seconds = Math.max(0.001, (now.at - before.at) / 1000);
    const deliverDelta = now.deliverCounts.map((c, i) => c - (before.deliverCounts[i] ?? 0));
    const deliverP99 = first ? null : quantileFromBuckets(this.#bounds, deliverDelta, 0.99);
    const loop = this.#loop.take();
    let outboxPending: number | null;
    try {
      outboxPending = await this.#outboxPending();
    } catch {
      outboxPending = null;
    }
    const { gateway, hub } = this.#sb;
    const memory = process.memoryUsage();
    return {
      node: this.#sb.nodeId,
      host: this.#host,
      at: new Date(now.at).toISOString(),
      intervalMs: now.at - before.at,
      connections: gateway.sessions.size,
      subscriptions: gateway.subscriptionCount(),
      channels: hub.channelCount(),
      messagesInPerSec: round((now.messagesIn - before.messagesIn) / seconds),
      messagesOutPerSec: round((now.messagesOut - before.messagesOut) / seconds),
      publicationsPerSec: round((now.publications - before.publications) / seconds),
      deliverP99Ms: deliverP99 === null ? null : round(deliverP99 * 1000, 2),
      loopLagP99Ms: round(loop.p99, 2),
      loopLagMaxMs: round(loop.max, 2),
      outboxPending,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
    };
  }

  /** Takes the counters' current values as the start of the first interval. */
  async prime(): Promise<void> {
    this.#last = await this.#totals();
    this.#loop.take();
  }

  stop(): void {
    this.#loop.stop();
  }
}

/**
 * The node's feed: a sample on `ops:node` every interval, whoever listens. Always, not only while
 * a console is open: a console opened late draws the last five minutes from the channel's history,
 * and with several nodes no node knows whether another node's console is listening without asking
 * Redis. It costs one publication of ~300 bytes a second per node, one `count(*)` of unsent outbox
 * rows (an index) and a walk over this node's sessions for the subscription count.
 */
export class OpsFeed {
  readonly #sb: Switchboard;
  readonly #sampler: NodeSampler;
  readonly #log: Logger;
  readonly intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  #tick: Promise<void> | null = null;
  #failing = false;

  constructor(sb: Switchboard, sampler: NodeSampler, log: Logger, intervalMs = DEFAULT_INTERVAL_MS) {
    this.#sb = sb;
    this.#sampler = sampler;
    this.#log = log;
    this.intervalMs = intervalMs;
  }

  async start(): Promise<void> {
    await this.#sampler.prime();
    this.#timer = setInterval(() => {
      // A tick still waiting (a slow database, the layer down) is not stacked on.
      this.#tick ??= this.publishOnce().finally(() => (this.#tick = null));
    }, this.intervalMs);
    this.#timer.unref();
  }

  /** Samples and publishes once; never rejects (a failure is logged once until it recovers). */
  async publishOnce(): Promise<void> {
    try {
      const sample = await this.#sampler.sample();
      await this.#sb.publish(OPS_CHANNEL, SAMPLE_EVENT, sample);
      if (this.#failing) this.#log.info('ops feed publishing again');
      this.#failing = false;
    } catch (err) {
      if (!this.#failing) this.#log.warn({ err }, 'ops feed: publishing the node sample failed; retrying every interval');
      this.#failing = true;
    }
  }

  /** The last five minutes, from the channel's history (every node's samples). */
  async snapshot(): Promise<OpsSnapshot> {
    const page = await this.#sb.history(OPS_CHANNEL, { limit: OPS_HISTORY_SIZE });
    const since = Date.now() - WINDOW_MS;
    let samples = page.publications.filter((p) => p.event === SAMPLE_EVENT && Date.parse((p.data as NodeSample).at) >= since).map((p) => p.data as NodeSample);
    if (samples.length > MAX_SNAPSHOT_SAMPLES) {
      // Many nodes: every k-th of the older samples, the newest minute whole.
      const recent = Date.now() - 60_000;
      const stride = Math.ceil(samples.length / MAX_SNAPSHOT_SAMPLES);
      samples = samples.filter((s, i) => Date.parse(s.at) >= recent || i % stride === 0);
    }
    return { samples, windowMs: WINDOW_MS, intervalMs: this.intervalMs };
  }

  /** The nodes whose samples arrived lately: those believed alive (every node runs a feed). */
  async recentNodes(): Promise<string[]> {
    const page = await this.#sb.history(OPS_CHANNEL, { limit: 64 });
    const since = Date.now() - Math.max(5000, 5 * this.intervalMs);
    const nodes = new Set<string>();
    for (const p of page.publications) if (p.event === SAMPLE_EVENT && Date.parse((p.data as NodeSample).at) >= since) nodes.add((p.data as NodeSample).node);
    return [...nodes];
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#tick;
    this.#sampler.stop();
  }
}
