// What the admission webhook would answer, asked before sending: the same pure validators
// (src/admission/validators.ts) over a view built from what the CLI read, the way the
// webhook builds one from its caches (src/admission/handler.ts view()). So the CLI's "no"
// is the webhook's "no", in the webhook's words. What only the webhook knows stays there:
// seat reservations of requests in flight (its ledger), the operator's own user name, its
// mail policy. A "yes" here can therefore still be the webhook's "no" on create (a race for
// the last seat), and the create says so.
import type { AdmissionView, Change } from '../admission/validators.ts';
import type { TeamSnapshot } from './team-view.ts';

export function admissionViewOf(snapshot: TeamSnapshot): AdmissionView {
  const { team, memberships, invitations, projects } = snapshot;
  return { team, memberships, invitations, projects, reservations: [] };
}

/** A create by the person running the CLI (the validators read the user only for the operator's own writes). */
export function creationOf<T>(object: T): Change<T> {
  return { operation: 'CREATE', object, user: { username: '', groups: [] }, requestUid: 'kubectl-roster' };
}
