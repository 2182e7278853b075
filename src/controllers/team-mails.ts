// The mails each team sent (every Invitation's status.recentMails), for the daily quota
// (SPEC §7). An Invitation's reconcile needs the team's count before every mail, and an
// invitation held by the quota asks again on every reconcile; walking the team each time
// (parse every time stamp, sort) made a big team's burst quadratic. The sorted times are
// kept per team until one of its invitations records a mail (or one with mails comes or
// goes), which happens at most once per mail sent.
import type { Invitation } from '../api/generated.ts';
import { index } from '../api/indexes.ts';
import { mailTimes } from '../domain/invitation-state.ts';
import type { InformerEvent } from '../runtime/informer.ts';
import { teamKeyOf } from './context.ts';

/** The invitations' cache, as far as this reads it. */
export interface TeamMailSource {
  on(handler: (event: InformerEvent<Invitation>) => void): () => void;
  byIndex(index: string, value: string): Invitation[];
}

function sameMails(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if ((a?.length ?? 0) !== (b?.length ?? 0)) return false;
  return (a ?? []).every((t, i) => t === b?.[i]);
}

export class TeamMailTimes {
  private readonly source: TeamMailSource;
  private readonly cached = new Map<string, readonly number[]>();
  private readonly unsubscribe: () => void;

  constructor(source: TeamMailSource) {
    this.source = source;
    this.unsubscribe = source.on((e) => {
      const mails = e.object.status?.recentMails;
      const changed = e.type === 'updated' ? !sameMails(e.old.status?.recentMails, mails) : e.type !== 'resync' && (mails?.length ?? 0) > 0;
      if (changed) this.cached.delete(teamKeyOf(e.object));
    });
  }

  close(): void {
    this.unsubscribe();
  }

  /** Every mail of the team's invitations as the cache shows them (mailTimes: ms, sorted). */
  times(teamKey: string): readonly number[] {
    let times = this.cached.get(teamKey);
    if (!times) {
      times = mailTimes(this.source.byIndex(index.byTeam, teamKey).map((i) => i.status?.recentMails));
      this.cached.set(teamKey, times);
    }
    return times;
  }
}
