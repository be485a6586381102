import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics. Hot-path counters take one `inc(n)` per fan-out, not one per socket. */
export class Metrics {
  readonly registry = new Registry();
  readonly messagesIn = new Counter({ name: 'switchboard_messages_in_total', help: 'Frames received from clients', registers: [this.registry] });
  readonly messagesOut = new Counter({ name: 'switchboard_messages_out_total', help: 'Publication and presence frames written to clients', registers: [this.registry] });
  readonly publications = new Counter({ name: 'switchboard_publications_total', help: 'Publications accepted by this node', registers: [this.registry] });
  readonly deliveryLatency = new Histogram({
    name: 'switchboard_publish_to_deliver_seconds',
    help: 'Time from a publication being accepted by the layer to its frame being written to local subscribers',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly closes = new Counter({ name: 'switchboard_closes_total', help: 'Connections closed by the server, by close code', labelNames: ['code'], registers: [this.registry] });
  readonly requestErrors = new Counter({ name: 'switchboard_request_errors_total', help: 'Requests answered with an error, by code', labelNames: ['code'], registers: [this.registry] });

  constructor(gauges: { connections: () => number; subscriptions: () => number; channels: () => number }) {
    new Gauge({ name: 'switchboard_connections', help: 'Open client connections', registers: [this.registry], collect() { this.set(gauges.connections()); } });
    new Gauge({ name: 'switchboard_subscriptions', help: 'Channel subscriptions of open connections', registers: [this.registry], collect() { this.set(gauges.subscriptions()); } });
    new Gauge({ name: 'switchboard_channels', help: 'Channels with at least one subscriber on this node', registers: [this.registry], collect() { this.set(gauges.channels()); } });
    // Includes nodejs_eventloop_lag_seconds and process memory.
    collectDefaultMetrics({ register: this.registry });
    // Not these: on each scrape they list every handle and every open file of the process, one per
    // socket. A node holding 13,000 connections stalled 45-67 ms per scrape (bench:cluster); with
    // 8,000, a scrape took 22 ms with them and 3-5 ms without. switchboard_connections counts the sockets.
    for (const name of ['nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources', 'nodejs_active_resources_total', 'process_open_fds']) this.registry.removeSingleMetric(name);
  }

  /** A gauge read when /metrics is scraped (modules add theirs, e.g. the outbox backlog). */
  addGauge(name: string, help: string, read: () => number | Promise<number>): void {
    new Gauge({ name, help, registers: [this.registry], async collect() { this.set(await read()); } });
  }
}
