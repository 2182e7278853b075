// `resend INVITATION`: sets the roster.dev/resend annotation to a new value; the operator
// mints a fresh link, kills the old one, restarts the expiry and mails it (deliveries + 1).
// INVITATION may also name a Membership (its invitation in flight is resent) or a Team (its
// owner's invitation).
import type { Invitation, Membership, Team } from '../../api/generated.ts';
import { resources } from '../../api/resources.ts';
import { RESEND_ANNOTATION } from '../../domain/invitation-state.ts';
import type { Connection } from '../cluster.ts';
import { emit, type Command } from '../command.ts';
import { ExitCode, refuse } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { parseObjectName } from '../values.ts';

const NAME = 'resend';

/** The invitation INVITATION names: an Invitation, else a Membership's or a Team's invitation in flight. */
async function resolveInvitation(conn: Connection, name: string): Promise<{ invitation: Invitation; via?: string }> {
  const direct = await conn.client.find<Invitation>(resources.invitation, conn.namespace, name);
  if (direct) return { invitation: direct };
  const [membership, team] = await Promise.all([
    conn.client.find<Membership>(resources.membership, conn.namespace, name),
    conn.client.find<Team>(resources.team, conn.namespace, name),
  ]);
  const inFlight = membership?.status?.invitation ?? team?.status?.owner?.invitation;
  const via = membership ? `membership ${name}` : `team ${name}'s owner`;
  if (inFlight) {
    const invitation = await conn.client.find<Invitation>(resources.invitation, conn.namespace, inFlight);
    if (invitation) return { invitation, via };
  }
  if (membership?.status?.phase === 'Active' || (team && !membership && team.status?.owner?.phase === 'Active')) {
    throw refuse(`${via} has already accepted; there is no invitation to resend`);
  }
  if (membership || team) throw refuse(`${via} has no invitation in flight yet; is the operator running?`);
  throw refuse(`invitation ${name} not found in namespace ${conn.namespace} (nor a membership or team of that name)`);
}

export const resend: Command = {
  spec: {
    name: NAME,
    summary: 'Mail a fresh invitation link (the old link stops working, the expiry restarts)',
    description: [
      'Resend an invitation. Sets the roster.dev/resend annotation to a new value; the operator mints a',
      'fresh link, the old one stops working, the expiry restarts and status.deliveries goes up. An',
      'expired invitation is revived. Accepted and revoked invitations cannot be resent.',
      '',
      "INVITATION is an Invitation's name; a Membership's name (or a Team's, for its owner) also works",
      'and resends the invitation currently in flight for it.',
    ].join('\n'),
    args: [{ name: 'INVITATION', description: 'the Invitation to resend (or a Membership or Team name)' }],
    flags: [],
    examples: [
      '# Resend an invitation by its name',
      `${PROGRAM} resend riley-7kq2p -n acme`,
      '',
      '# Resend the invitation of the membership riley',
      `${PROGRAM} resend riley -n acme`,
    ],
  },

  async run({ args, global, io, connect }) {
    const name = parseObjectName(args[0]!, 'INVITATION', NAME);
    const conn = await connect();
    const { invitation, via } = await resolveInvitation(conn, name);
    const invName = invitation.metadata.name ?? '';
    const phase = invitation.status?.phase;
    if (phase === 'Accepted') {
      throw refuse(
        `invitation ${invName} was already accepted${invitation.status?.membership ? ` (membership ${invitation.status.membership})` : ''}; nothing to resend`,
      );
    }
    if (phase === 'Revoked' || invitation.spec.revoked === true) {
      throw refuse(
        `invitation ${invName} was revoked and its link never works again; invite ${invitation.spec.email} anew: ${PROGRAM} invite ${invitation.spec.email} --team ${invitation.spec.team} --role ${invitation.spec.role} -n ${conn.namespace}`,
      );
    }
    // Any value the operator has not acted on yet asks for a resend; a timestamp is new each time.
    const previous = invitation.metadata.annotations?.[RESEND_ANNOTATION];
    let value = new Date().toISOString();
    if (value === previous) value = `${value}-1`;
    const patched = await conn.client.patch<Invitation>(resources.invitation, conn.namespace, invName, 'merge', {
      metadata: { annotations: { [RESEND_ANNOTATION]: value } },
    });
    const sent = invitation.status?.deliveries ?? 0;
    emit(
      io,
      global.output,
      patched,
      () =>
        `invitation.roster.dev/${invName}${via ? ` (${via})` : ''}: resend requested; a fresh link goes to ${invitation.spec.email}${phase === 'Pending' ? ' and the previous one stops working' : ''} (mailed ${sent} time${sent === 1 ? '' : 's'} so far)\n`,
    );
    return ExitCode.ok;
  },
};
