// `can-i EMAIL VERB [--project P] [--environment E] [--team T]`: an access review from the
// role matrix and the person's membership. Prints yes or no and why; exits 0 for yes, 1 for no.
import type { Invitation, Membership, Project, Team } from '../../api/generated.ts';
import { resources } from '../../api/resources.ts';
import { PERMISSIONS } from '../../domain/roles.ts';
import { reviewPersonAccess } from '../access-review.ts';
import { listAll } from '../cluster.ts';
import { emit, type Command } from '../command.ts';
import { ExitCode, refuse, UsageError } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { describeVerbs, permissionForVerb } from '../verbs.ts';
import { parseEmail, parseObjectName } from '../values.ts';

const NAME = 'can-i';

export const canI: Command = {
  spec: {
    name: NAME,
    summary: 'Check whether a person may do something in their team (yes/no and why)',
    description: [
      'Check whether a person may do something, from the role matrix and their membership: the',
      "team's owner, or a Membership's role and project scope. A Membership grants nothing until it",
      'is Active. Prints yes or no and the reason; exits 0 for yes and 1 for no.',
      '',
      'VERB is a permission of the role matrix (or one of its other words):',
      ...describeVerbs(),
      '',
      'This answers from the manifests. To see what the cluster itself enforces for the kubernetes',
      'identity backend, ask the API server: kubectl auth can-i VERB RESOURCE --as EMAIL -n NS.',
    ].join('\n'),
    args: [
      { name: 'EMAIL', description: 'the person' },
      { name: 'VERB', description: `a permission: ${PERMISSIONS.join(', ')}` },
    ],
    flags: [
      { name: 'project', value: 'PROJECT', description: 'ask about one project' },
      { name: 'environment', value: 'ENV', description: 'ask about one environment of --project' },
      { name: 'team', value: 'TEAM', description: 'the team, when the person is in several teams of the namespace' },
      { name: 'quiet', short: 'q', description: 'print nothing; answer with the exit code only' },
    ],
    examples: [
      '# May riley deploy to shop/staging?',
      `${PROGRAM} can-i riley@acme.com deploy --project shop --environment staging -n acme`,
      '',
      '# May noah manage members? (aliases work: invite, members, manage-members)',
      `${PROGRAM} can-i noah@acme.com invite -n acme`,
      '',
      '# In a script',
      `if ${PROGRAM} can-i maya@acme.com billing -n acme -q; then echo "maya sees invoices"; fi`,
    ],
  },

  async run({ args, flags, global, io, connect, now }) {
    const email = parseEmail(args[0]!, NAME);
    const verb = args[1]!;
    const permission = permissionForVerb(verb);
    if (permission === undefined) {
      throw new UsageError(`unknown VERB ${JSON.stringify(verb)}; use one of ${PERMISSIONS.join(', ')} (see ${PROGRAM} can-i --help for other words)`, NAME);
    }
    const project = flags.string('project');
    const environment = flags.string('environment');
    if (environment !== undefined && project === undefined) throw new UsageError('--environment needs --project: environments belong to a project', NAME);
    const team = flags.string('team');
    if (team !== undefined) parseObjectName(team, '--team', NAME);

    const conn = await connect();
    const [teams, memberships, invitations, projects] = await Promise.all([
      listAll<Team>(conn, resources.team),
      listAll<Membership>(conn, resources.membership),
      listAll<Invitation>(conn, resources.invitation),
      listAll<Project>(conn, resources.project),
    ]);
    const outcome = reviewPersonAccess(
      { namespace: conn.namespace, teams, memberships, invitations, projects },
      {
        email,
        permission,
        ...(project !== undefined ? { project } : {}),
        ...(environment !== undefined ? { environment } : {}),
        ...(team !== undefined ? { team } : {}),
      },
      now(),
    );
    if (outcome.kind === 'teamNotFound') throw refuse(`team ${outcome.team} not found in namespace ${conn.namespace}`);
    if (outcome.kind === 'ambiguous') {
      throw new UsageError(`${email} is in several teams in namespace ${conn.namespace} (${outcome.teams.join(', ')}); say which with --team`, NAME);
    }
    const { answer } = outcome;
    if (!flags.boolean('quiet')) {
      emit(io, global.output, answer, () => `${answer.allowed ? 'yes' : 'no'}\n${answer.reason}\n`);
    }
    return answer.allowed ? ExitCode.ok : ExitCode.no;
  },
};
