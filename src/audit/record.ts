// One change to a team, recorded once in both places people look: an Event on the object
// (what `kubectl describe` and `kubectl roster audit` show) and a line in the audit stream
// (the long-term record). Both name who did it, so every change is attributable.
import type { KubeObject } from '../runtime/kube-client.ts';

/** A line of the audit stream (`"stream":"audit"` in the operator's log). */
export interface AuditEntry {
  action: string;
  entity: 'team' | 'member' | 'invitation' | 'project' | 'key';
  team: string;
  namespace: string;
  subject?: string;
  roleBefore?: string;
  roleAfter?: string;
  actor?: string;
  detail?: string;
}

export interface Recorder {
  record(regarding: KubeObject, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void;
}

export interface TeamChange {
  readonly regarding: KubeObject;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly action: string;
  readonly note: string;
  /** Who caused it: the Kubernetes user the admission webhook recorded (or the person who accepted). */
  readonly actor?: string;
  /** Also a line of the audit stream (team changes; not routine Events such as drift). */
  readonly audit?: Omit<AuditEntry, 'actor'>;
}

const BY = / \(by ([^()]+)\)$/;

/** An Event note that names the actor, in the one form `kubectl roster audit` reads back. */
export function noteWithActor(note: string, actor: string | undefined): string {
  return actor ? `${note} (by ${actor})` : note;
}

/** The actor named at the end of an Event note, and the note without it. */
export function actorOfNote(note: string): { note: string; actor?: string } {
  const match = BY.exec(note);
  return match ? { note: note.slice(0, match.index), actor: match[1] } : { note };
}

export function recordChange(sinks: { events: Recorder; audit: (entry: AuditEntry) => void }, change: TeamChange): void {
  sinks.events.record(change.regarding, change.type, change.reason, change.action, noteWithActor(change.note, change.actor));
  if (change.audit) sinks.audit({ ...change.audit, ...(change.actor ? { actor: change.actor } : {}) });
}
