// Roster's own metrics, next to the generic controller-runtime ones the runtime keeps
// (src/runtime/metrics.ts): they register in the same registry, so /metrics serves both.
import { Counter, Gauge, type Registry } from 'prom-client';

export class RosterMetrics {
  readonly mailsSent: Counter<'backend'>;
  readonly mailsFailed: Counter<'backend'>;
  readonly backendErrors: Counter<'backend' | 'operation'>;
  readonly removalsHeld: Gauge<'namespace' | 'team'>;
  readonly admissionDenials: Counter<'webhook'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.mailsSent = new Counter({ name: 'roster_mails_sent_total', help: 'Invitation mails handed to the mail backend', labelNames: ['backend'], registers });
    this.mailsFailed = new Counter({
      name: 'roster_mails_failed_total',
      help: 'Invitation mails the mail backend refused or failed to send',
      labelNames: ['backend'],
      registers,
    });
    this.backendErrors = new Counter({
      name: 'roster_identity_backend_errors_total',
      help: 'Failed calls to identity backends',
      labelNames: ['backend', 'operation'],
      registers,
    });
    this.admissionDenials = new Counter({
      name: 'roster_admission_denials_total',
      help: 'Admission reviews the webhook denied, per webhook path',
      labelNames: ['webhook'],
      registers,
    });
    this.removalsHeld = new Gauge({
      name: 'roster_removals_held',
      help: 'Memberships whose removal the removal brake holds, per team',
      labelNames: ['namespace', 'team'],
      registers,
    });
  }
}
