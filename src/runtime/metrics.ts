// Prometheus metrics under controller-runtime's names, so the dashboards and alerts people
// already run for Go operators work unchanged. One registry per process (not prom-client's
// global, so tests can run several managers side by side).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ControllerMetricsSink, ReconcileOutcome } from './controller.ts';
import type { ClientMetricsSink } from './kube-client.ts';
import type { QueueMetricsSink } from './workqueue.ts';

// controller-runtime's reconcile-time buckets.
const reconcileBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10,
  15, 20, 25, 30, 40, 50, 60,
];
const queueBuckets = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10, 100, 1000];
// client-go's (k8s.io/component-base/metrics/prometheus/restclient) request-latency buckets.
const clientRequestBuckets = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];
// Admission answers take milliseconds: prom-client's default buckets start at 5 ms, which put
// nearly every call in the first bucket (a p50 then reads as "somewhere under 5 ms"); a
// mutation takes a few hundred microseconds.
const webhookBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller',
    labelNames: ['controller', 'result'],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Total number of reconciliation errors per controller',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly terminalErrors = new Counter({
    name: 'controller_runtime_terminal_reconcile_errors_total',
    help: 'Total number of terminal reconciliation errors per controller',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'],
    buckets: reconcileBuckets,
    registers: [this.registry],
  });
  readonly activeWorkers = new Gauge({
    name: 'controller_runtime_active_workers',
    help: 'Number of currently used workers per controller',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly maxConcurrent = new Gauge({
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Maximum number of concurrent reconciles per controller',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue',
    labelNames: ['name', 'controller'],
    registers: [this.registry],
  });
  readonly queueAdds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue',
    labelNames: ['name', 'controller'],
    registers: [this.registry],
  });
  readonly queueLatency = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames: ['name', 'controller'],
    buckets: queueBuckets,
    registers: [this.registry],
  });
  readonly workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes',
    labelNames: ['name', 'controller'],
    buckets: queueBuckets,
    registers: [this.registry],
  });
  readonly unfinishedWork = new Gauge({
    name: 'workqueue_unfinished_work_seconds',
    help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
    labelNames: ['name', 'controller'],
    registers: [this.registry],
  });
  readonly longestRunningProcessor = new Gauge({
    name: 'workqueue_longest_running_processor_seconds',
    help: 'How many seconds has the longest running processor for workqueue been running.',
    labelNames: ['name', 'controller'],
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of retries handled by workqueue',
    labelNames: ['name', 'controller'],
    registers: [this.registry],
  });
  readonly leaderStatus = new Gauge({
    name: 'leader_election_master_status',
    help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly webhookLatency = new Histogram({
    name: 'controller_runtime_webhook_latency_seconds',
    help: 'Histogram of the latency of processing admission requests',
    labelNames: ['webhook'],
    buckets: webhookBuckets,
    registers: [this.registry],
  });
  readonly webhookRequests = new Counter({
    name: 'controller_runtime_webhook_requests_total',
    help: 'Total number of admission requests by HTTP status code',
    labelNames: ['webhook', 'code'],
    registers: [this.registry],
  });
  readonly webhookInFlight = new Gauge({
    name: 'controller_runtime_webhook_requests_in_flight',
    help: 'Current number of admission requests being served',
    labelNames: ['webhook'],
    registers: [this.registry],
  });
  // client-go's: method and verb both hold the HTTP method (client-go's Request.verb is the HTTP
  // verb), host the API server's host:port as the kubeconfig names it.
  readonly clientRequests = new Counter({
    name: 'rest_client_requests_total',
    help: 'Number of HTTP requests, partitioned by status code, method, and host.',
    labelNames: ['code', 'method', 'host'],
    registers: [this.registry],
  });
  readonly clientRequestDuration = new Histogram({
    name: 'rest_client_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by verb, and host.',
    labelNames: ['verb', 'host'],
    buckets: clientRequestBuckets,
    registers: [this.registry],
  });
  readonly clientRateLimiterDuration = new Histogram({
    name: 'rest_client_rate_limiter_duration_seconds',
    help: 'Client side rate limiter latency in seconds. Broken down by verb, and host.',
    labelNames: ['verb', 'host'],
    buckets: clientRequestBuckets,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  controllerSink(controller: string): ControllerMetricsSink {
    return {
      reconciled: (outcome: ReconcileOutcome, seconds: number) => {
        this.reconcileTotal.inc({ controller, result: outcome });
        if (outcome === 'error') this.reconcileErrors.inc({ controller });
        this.reconcileTime.observe({ controller }, seconds);
      },
      terminalError: () => {
        this.terminalErrors.inc({ controller });
        this.reconcileErrors.inc({ controller });
      },
      activeWorkers: (n) => this.activeWorkers.set({ controller }, n),
      maxConcurrentReconciles: (n) => this.maxConcurrent.set({ controller }, n),
    };
  }

  queueSink(name: string): QueueMetricsSink {
    const labels = { name, controller: name };
    // Zero-valued series exist from the start, as in client-go.
    this.queueAdds.inc(labels, 0);
    this.queueRetries.inc(labels, 0);
    this.queueDepth.set(labels, 0);
    this.unfinishedWork.set(labels, 0);
    this.longestRunningProcessor.set(labels, 0);
    return {
      depth: (n) => this.queueDepth.set(labels, n),
      added: () => this.queueAdds.inc(labels),
      queueLatency: (s) => this.queueLatency.observe(labels, s),
      workDuration: (s) => this.workDuration.observe(labels, s),
      retried: () => this.queueRetries.inc(labels),
      unfinishedWork: (seconds, longestSeconds) => {
        this.unfinishedWork.set(labels, seconds);
        this.longestRunningProcessor.set(labels, longestSeconds);
      },
    };
  }

  /** For KubeClient's `metrics` option: the rest_client_* series of every request it makes. */
  clientSink(): ClientMetricsSink {
    return {
      requestDone: ({ code, method, host }) => this.clientRequests.inc({ code, method, host }),
      requestDuration: ({ method, host }, seconds) => this.clientRequestDuration.observe({ verb: method, host }, seconds),
      rateLimited: ({ method, host }, seconds) => this.clientRateLimiterDuration.observe({ verb: method, host }, seconds),
    };
  }

  leaderSink(name: string): { leading(isLeader: boolean): void } {
    this.leaderStatus.set({ name }, 0);
    return { leading: (isLeader) => this.leaderStatus.set({ name }, isLeader ? 1 : 0) };
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
