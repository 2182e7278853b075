// `audit TEAM [--since D]`: the team's history from the Events the operator recorded on the
// Team and on its Memberships, Invitations and Projects, newest last.
import type { AccessKey, Invitation, Membership, Project, Team } from '../../api/generated.ts';
import { resources } from '../../api/resources.ts';
import { auditTrail, type EventRecord } from '../audit-trail.ts';
import { getTeam, listAll } from '../cluster.ts';
import { emit, type Command } from '../command.ts';
import { ExitCode } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { renderTable, shortTime } from '../output.ts';
import { parseObjectName, parseSince } from '../values.ts';

const NAME = 'audit';

export const audit: Command = {
  spec: {
    name: NAME,
    summary: "Show a team's history from the Events on its objects, newest last",
    description: [
      "Show a team's history: the Events the operator recorded on the Team and on its Memberships,",
      'Invitations and Projects — invitations sent and resent, revoked and expired; people activated,',
      'their access changed or removed; drift corrected; ownership transferred — oldest first, newest',
      'last, with who did it (ACTOR: the Kubernetes user the admission webhook recorded, or the person',
      'who accepted). Repeats of the same Event show as (xN).',
      '',
      'Events live as long as the API server keeps them (kube-apiserver --event-ttl, 1h by default);',
      'for the long-term record read the operator\'s audit log (JSON lines with "stream":"audit").',
      'Events of deleted objects count for a team only when it is the only Team in its namespace.',
    ].join('\n'),
    args: [{ name: 'TEAM', description: 'the Team' }],
    flags: [{ name: 'since', value: 'DURATION|TIME', description: 'only what happened in the last DURATION (30m, 2h) or since TIME (RFC 3339)' }],
    examples: [`${PROGRAM} audit acme -n acme`, '', '# The last half hour, as JSON', `${PROGRAM} audit acme -n acme --since 30m -o json`],
  },

  async run({ args, flags, global, io, connect, now }) {
    const teamName = parseObjectName(args[0]!, 'TEAM', NAME);
    const sinceText = flags.string('since');
    const since = sinceText === undefined ? undefined : parseSince(sinceText, now(), NAME);
    const conn = await connect();
    const team = await getTeam(conn, teamName);
    const [teams, memberships, invitations, projects, accessKeys, events] = await Promise.all([
      listAll<Team>(conn, resources.team),
      listAll<Membership>(conn, resources.membership),
      listAll<Invitation>(conn, resources.invitation),
      listAll<Project>(conn, resources.project),
      listAll<AccessKey>(conn, resources.accessKey),
      listAll<EventRecord>(conn, resources.event),
    ]);
    const entries = auditTrail(
      { team, namespace: conn.namespace, teamsInNamespace: teams.length, memberships, invitations, projects, accessKeys },
      events,
      since,
    );
    if ((global.output === 'table' || global.output === 'wide') && entries.length === 0) {
      io.err(`No events found for team ${teamName} in namespace ${conn.namespace}${sinceText ? ` since ${sinceText}` : ''}.\n`);
      return ExitCode.ok;
    }
    emit(io, global.output, { team: teamName, namespace: conn.namespace, events: entries }, (wide) =>
      renderTable(
        ['TIME', 'TYPE', 'REASON', 'OBJECT', 'ACTOR', 'MESSAGE', ...(wide ? ['REPORTER'] : [])],
        entries.map((e) => [
          shortTime(e.time),
          e.type,
          e.reason,
          e.object,
          e.actor ?? '-',
          e.count > 1 ? `${e.note} (x${e.count})` : e.note,
          ...(wide ? [e.reporter ?? ''] : []),
        ]),
      ),
    );
    return ExitCode.ok;
  },
};
