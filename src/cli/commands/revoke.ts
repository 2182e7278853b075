// `revoke INVITATION`: sets spec.revoked=true; the link never works again, the record
// stays, the seat frees. Invitations the operator keeps for a Membership or for the owner
// follow their owner object, so revoking one alone would only make the operator mail a new
// one: for those the answer says what to change instead.
import type { Invitation } from '../../api/generated.ts';
import { resources } from '../../api/resources.ts';
import { emit, type Command } from '../command.ts';
import { ExitCode, refuse } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { parseObjectName } from '../values.ts';

const NAME = 'revoke';

export const revoke: Command = {
  spec: {
    name: NAME,
    summary: 'Revoke an invitation (its link stops working for good; the seat frees)',
    description: [
      'Revoke an invitation: sets spec.revoked to true. The link never works again, the Invitation',
      'stays as a record and its seat frees. Revoking a revoked invitation does nothing.',
      '',
      'Invitations that Roster keeps for a Membership (or for the Team owner) follow that object:',
      'delete the Membership to withdraw the invitation (and the membership) instead.',
    ].join('\n'),
    args: [{ name: 'INVITATION', description: 'the Invitation to revoke' }],
    flags: [],
    examples: [`# Revoke a standalone invitation`, `${PROGRAM} revoke jordan-x7k2p -n acme`],
  },

  async run({ args, global, io, connect }) {
    const name = parseObjectName(args[0]!, 'INVITATION', NAME);
    const conn = await connect();
    const ns = conn.namespace;
    const invitation = await conn.client.find<Invitation>(resources.invitation, ns, name);
    if (!invitation) throw refuse(`invitation ${name} not found in namespace ${ns}`);
    const phase = invitation.status?.phase;
    const controller = (invitation.metadata.ownerReferences ?? []).find((r) => r.controller && r.apiVersion.startsWith('roster.dev/'));
    if (phase === 'Accepted') {
      if (controller?.kind === 'Team') {
        throw refuse(
          `invitation ${name} was accepted: ${invitation.spec.email} owns team ${controller.name}; ownership moves with: ${PROGRAM} transfer ${controller.name} EMAIL -n ${ns}`,
        );
      }
      const membership = invitation.status?.membership ?? (controller?.kind === 'Membership' ? controller.name : undefined);
      throw refuse(
        `invitation ${name} was already accepted; to remove ${invitation.spec.email}'s access delete their membership: kubectl delete membership ${membership ?? '<name>'} -n ${ns}`,
      );
    }
    if (controller?.kind === 'Membership') {
      throw refuse(
        `invitation ${name} belongs to membership ${controller.name}, which would only send a new one; to withdraw it delete the membership: kubectl delete membership ${controller.name} -n ${ns}`,
      );
    }
    if (controller?.kind === 'Team') {
      throw refuse(`invitation ${name} invites the owner of team ${controller.name} and follows the Team's spec.owner; it cannot be revoked on its own`);
    }
    if (phase === 'Revoked' || invitation.spec.revoked === true) {
      emit(io, global.output, invitation, () => `invitation.roster.dev/${name} is already revoked\n`);
      return ExitCode.ok;
    }
    const patched = await conn.client.patch<Invitation>(resources.invitation, ns, name, 'merge', { spec: { revoked: true } });
    emit(
      io,
      global.output,
      patched,
      () => `invitation.roster.dev/${name} revoked: the link to ${invitation.spec.email} no longer works and its seat is free\n`,
    );
    return ExitCode.ok;
  },
};
