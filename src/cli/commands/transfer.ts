// `transfer TEAM EMAIL`: moves ownership by editing the Team's spec.owner (one object, one
// write, atomic). Only an Active admin of the team can become its owner (SPEC §3); the
// command checks that first and says what to do otherwise. The operator then gives the new
// owner owner rights and keeps the previous owner on as an admin.
import type { Team } from '../../api/generated.ts';
import { resources } from '../../api/resources.ts';
import { sameEmail } from '../../domain/email.ts';
import type { Connection } from '../cluster.ts';
import { loadTeam } from '../cluster.ts';
import { emit, type Command } from '../command.ts';
import { CliError, ExitCode, isApiStatus, refuse } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import type { TeamSnapshot } from '../team-view.ts';
import { parseEmail, parseObjectName } from '../values.ts';

const NAME = 'transfer';

/** Why EMAIL cannot become the owner yet, with the next step; undefined when it can. */
export function transferProblem(snapshot: TeamSnapshot, email: string, namespace: string): string | undefined {
  const teamName = snapshot.team.metadata.name ?? '';
  const membership = snapshot.memberships.find((m) => sameEmail(m.spec.email, email));
  if (!membership) {
    return `${email} is not a member of team ${teamName}; only an Active admin can become the owner: invite them first (${PROGRAM} invite ${email} --team ${teamName} --role admin -n ${namespace}), wait until they accept, then transfer`;
  }
  const name = membership.metadata.name ?? '';
  if (membership.spec.role !== 'admin') {
    return `${email} is ${membership.spec.role} in team ${teamName}; only an Active admin can become the owner: make them admin first (kubectl patch membership ${name} -n ${namespace} --type=merge -p '{"spec":{"role":"admin","projects":null}}'), then transfer`;
  }
  if (membership.status?.phase !== 'Active') {
    const phase = membership.status?.phase ?? 'not reconciled yet';
    const next =
      membership.status?.phase === 'Invited'
        ? `wait until they accept the invitation (mail it again with: ${PROGRAM} resend ${name} -n ${namespace})`
        : 'see kubectl describe membership ' + name + ' -n ' + namespace;
    return `${email} is admin in team ${teamName} but the membership is ${phase}, not Active; ${next}, then transfer`;
  }
  return undefined;
}

async function patchOwner(conn: Connection, team: Team, owner: { email: string; name?: string }): Promise<Team> {
  try {
    return await conn.client.patch<Team>(resources.team, conn.namespace, team.metadata.name ?? '', 'merge', {
      // resourceVersion: fail rather than overwrite a change made since we read the team.
      metadata: { resourceVersion: team.metadata.resourceVersion },
      spec: { owner: { email: owner.email, name: owner.name ?? null } },
    });
  } catch (e) {
    if (isApiStatus(e, 409)) throw new CliError(ExitCode.api, `team ${team.metadata.name} changed while transferring; run the command again`);
    throw e;
  }
}

export const transfer: Command = {
  spec: {
    name: NAME,
    summary: "Transfer a team's ownership to an Active admin (edits the Team's spec.owner)",
    description: [
      "Transfer a team's ownership. Edits the Team's spec.owner — one object, one write — after",
      'checking that EMAIL is an Active admin of the team (the only people who may become owner);',
      'otherwise it says what to do first. The operator then gives the new owner owner rights, and',
      'the previous owner stays on as an admin through a Membership it creates.',
    ].join('\n'),
    args: [
      { name: 'TEAM', description: 'the Team' },
      { name: 'EMAIL', description: 'the new owner: an Active admin of the team' },
    ],
    flags: [],
    examples: [`${PROGRAM} transfer acme ava@acme.com -n acme`, '', '# Then watch it happen', `${PROGRAM} members acme -n acme`],
  },

  async run({ args, global, io, connect }) {
    const teamName = parseObjectName(args[0]!, 'TEAM', NAME);
    const email = parseEmail(args[1]!, NAME);
    const conn = await connect();
    const snapshot = await loadTeam(conn, teamName);
    const { team } = snapshot;
    const previous = team.spec.owner.email;
    if (sameEmail(previous, email)) {
      emit(io, global.output, team, () => `${email} already owns team ${teamName}; nothing to do\n`);
      return ExitCode.ok;
    }
    const problem = transferProblem(snapshot, email, conn.namespace);
    if (problem !== undefined) throw refuse(problem);
    const membership = snapshot.memberships.find((m) => sameEmail(m.spec.email, email))!;
    const updated = await patchOwner(conn, team, { email: membership.spec.email, ...(membership.spec.name ? { name: membership.spec.name } : {}) });
    emit(
      io,
      global.output,
      updated,
      () =>
        `team.roster.dev/${teamName}: ownership moves from ${previous} to ${membership.spec.email}; ${previous} stays on as admin. Follow it with: ${PROGRAM} members ${teamName} -n ${conn.namespace}\n`,
    );
    return ExitCode.ok;
  },
};
