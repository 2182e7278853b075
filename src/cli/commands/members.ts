// `members TEAM`: the owner, every Membership (role, scope, phase, email) and the standalone
// invitations still pending.
import type { AccessKey } from '../../api/generated.ts';
import { resources } from '../../api/resources.ts';
import { listAll, loadTeam } from '../cluster.ts';
import { emit, type Command } from '../command.ts';
import { ExitCode } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { age, renderTable } from '../output.ts';
import { MEMBER_COLUMNS, memberRows, phaseLabel } from '../team-view.ts';
import { parseObjectName } from '../values.ts';

const NAME = 'members';

export const members: Command = {
  spec: {
    name: NAME,
    summary: "List a team's owner, members and pending invitations",
    description: [
      "List a team's people: the owner (from the Team), every Membership with its role, scope and",
      'phase, and the standalone invitations still waiting to be accepted. PHASE is the phase of the',
      'object in OBJECT, in the words `kubectl get` uses for it (a Membership is Invited, its',
      'Invitation Pending). A Membership grants nothing until its phase is Active. A mail that',
      'failed, was deferred (quota, resend cooldown) or may not have gone out (the operator stopped',
      'mid-send) shows next to the phase, e.g. "Invited (mail unconfirmed)", with the resend command',
      'in DETAIL (-o wide). With -o json or',
      'yaml each row also carries the display name, the projects, expiry, delivery and, when not',
      'Active, why not.',
      '',
      "The team's access keys (automation credentials acting for a member) follow in a section of",
      'their own: owner, requested and effective role, phase and expiry. Keys take no seat.',
    ].join('\n'),
    args: [{ name: 'TEAM', description: 'the Team' }],
    flags: [],
    examples: [
      `${PROGRAM} members acme -n acme`,
      '',
      '# The emails of everyone not active yet',
      `${PROGRAM} members acme -n acme -o json | jq -r '.members[] | select(.phase != "Active") | .email'`,
    ],
  },

  async run({ args, global, io, connect, now }) {
    const teamName = parseObjectName(args[0]!, 'TEAM', NAME);
    const conn = await connect();
    const snapshot = await loadTeam(conn, teamName);
    const rows = memberRows(snapshot);
    const at = now();
    const keys = (await listAll<AccessKey>(conn, resources.accessKey)).filter((k) => k.spec.team === teamName);
    const keyRows = keys.map((k) => ({
      name: k.metadata.name ?? '',
      owner: k.spec.owner ?? '',
      role: k.spec.role,
      effective: k.status?.effective?.role ?? '-',
      phase: k.status?.phase ?? '-',
      expiresAt: k.spec.expiresAt,
    }));
    const keyTable = () =>
      keyRows.length === 0
        ? ''
        : `\n${renderTable(
            ['KEY', 'OWNER', 'ROLE', 'EFFECTIVE', 'PHASE', 'EXPIRES'],
            keyRows.map((k) => [`key/${k.name}`, k.owner, k.role, k.effective, k.phase, k.expiresAt]),
          )}`;
    emit(
      io,
      global.output,
      { team: teamName, namespace: conn.namespace, members: rows, keys: keyRows },
      (wide) =>
        (wide
          ? renderTable(
              [...MEMBER_COLUMNS, 'DELIVERY', 'NAME', 'EXPIRES', 'DETAIL'],
              rows.map((r) => [
                r.email,
                r.role,
                r.scope,
                phaseLabel(r),
                r.object,
                age(r.since, at),
                r.delivery ?? '',
                r.name ?? '',
                r.expiresAt ?? '',
                r.detail ?? '',
              ]),
            )
          : renderTable(
              MEMBER_COLUMNS,
              rows.map((r) => [r.email, r.role, r.scope, phaseLabel(r), r.object, age(r.since, at)]),
            )) + keyTable(),
    );
    return ExitCode.ok;
  },
};
