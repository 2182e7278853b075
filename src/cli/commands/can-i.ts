// `can-i EMAIL VERB [--project P] [--environment E] [--team T]`: an access review from the
// role matrix, the person's membership and, for project environments, the tenancy rule
// (SPEC §7: only namespaces assigned to the team). Prints yes or no and why; exits 0 for
// yes, 1 for no.
import type { Invitation, Membership, Project, Team } from '../../api/generated.ts';
import { resources } from '../../api/resources.ts';
import { PERMISSIONS } from '../../domain/roles.ts';
import { namespacesToRead, reviewPersonAccess, type AccessQuestion, type NamespaceReading } from '../access-review.ts';
import { listAll, readNamespace } from '../cluster.ts';
import { emit, type Command } from '../command.ts';
import { ExitCode, refuse, UsageError } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { describeVerbs, permissionForVerb } from '../verbs.ts';
import { parseEmail, parseObjectName } from '../values.ts';
import { reviewKeyAccess } from './key.ts';
import { describeSubject, type SubjectMapping } from '../../backends/identity/kubernetes-subjects.ts';

const NAME = 'can-i';
const DEFAULT_NAMESPACE_LABEL = 'roster.dev/team';
const DEFAULT_OPERATOR_NAMESPACE = 'roster-system';
// A label key as Kubernetes takes it: an optional DNS prefix and `/`, then a name.
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export const canI: Command = {
  spec: {
    name: NAME,
    summary: 'Check whether a person may do something in their team (yes/no and why)',
    description: [
      'Check whether a person may do something, from the role matrix and their membership: the',
      "team's owner, or a Membership's role and project scope. A Membership grants nothing until it",
      'is Active. Prints yes or no and the reason; exits 0 for yes and 1 for no.',
      '',
      'Where the answer involves project environments (view, deploy), it also applies the tenancy',
      "rule: Roster grants nothing in a namespace not assigned to the team (label KEY=<the team's",
      'namespace>, KEY from --namespace-label), nor ever in kube-system, kube-public, kube-node-lease,',
      "the operator's namespace or a namespace holding a Team. It reads those namespaces' labels and",
      'Teams; where the API server does not let you, the answer is no and says it cannot tell.',
      '',
      'EMAIL finds the person whatever its case, but the answer is for the Kubernetes user the',
      'kubernetes identity backend binds: the address exactly as the manifest writes it',
      '(Membership spec.email, Team spec.owner.email), since Kubernetes user names are',
      'case-sensitive. Asked in another case than written, the answer is no, as the API server',
      'would say, with the answer for the written spelling and a warning.',
      '',
      'VERB is a permission of the role matrix (or one of its other words):',
      ...describeVerbs(),
      '',
      'This answers from the manifests and namespace labels. To see what the cluster itself',
      'enforces for the kubernetes identity backend, ask the API server:',
      'kubectl auth can-i VERB RESOURCE --as EMAIL -n NS.',
    ].join('\n'),
    args: [
      { name: 'EMAIL', description: 'the person, or key/NAME for an access key' },
      { name: 'VERB', description: `a permission: ${PERMISSIONS.join(', ')} (for a key: a Kubernetes verb such as update)` },
      { name: 'RESOURCE', description: 'for a key only: a Kubernetes resource such as deployments (or RESOURCE.GROUP)', optional: true },
    ],
    flags: [
      { name: 'project', value: 'PROJECT', description: 'ask about one project' },
      { name: 'environment', value: 'ENV', description: 'ask about one environment of --project' },
      { name: 'team', value: 'TEAM', description: 'the team, when the person is in several teams of the namespace' },
      {
        name: 'namespace-label',
        value: 'KEY',
        description: `the label that assigns a namespace to a team, as in the operator's tenancy.namespaceLabel (default ${DEFAULT_NAMESPACE_LABEL})`,
      },
      {
        name: 'operator-namespace',
        value: 'NAMESPACE',
        description: `the roster operator's namespace, as in its namespace setting (default ${DEFAULT_OPERATOR_NAMESPACE})`,
      },
      {
        name: 'subject',
        value: 'User|Group',
        description: "what the kubernetes identity backend binds, as in its subject setting (default User): the person, or Roster's groups",
      },
      { name: 'user-prefix', value: 'PREFIX', description: "the backend's userPrefix, e.g. oidc: (User <PREFIX><email>)" },
      {
        name: 'group-prefix',
        value: 'PREFIX',
        description: "the backend's groupPrefix with --subject Group (Group <PREFIX>roster:<namespace>:<team>:<role>…)",
      },
      { name: 'quiet', short: 'q', description: 'print nothing; answer with the exit code only' },
    ],
    examples: [
      '# May riley deploy to shop/staging?',
      `${PROGRAM} can-i riley@acme.com deploy --project shop --environment staging -n acme`,
      '',
      '# May noah manage members? (aliases work: invite, members, manage-members)',
      `${PROGRAM} can-i noah@acme.com invite -n acme`,
      '',
      '# With an operator configured with another label and namespace',
      `${PROGRAM} can-i noah@acme.com deploy --project shop -n acme --namespace-label platform.example/team --operator-namespace roster`,
      '',
      '# On an OIDC cluster, with the backend configured with userPrefix: "oidc:" (or subject: Group)',
      `${PROGRAM} can-i riley@acme.com deploy --project shop --environment staging -n acme --user-prefix oidc:`,
      `${PROGRAM} can-i riley@acme.com deploy --project shop --environment staging -n acme --subject Group`,
      '',
      '# May the access key ci-deploy update deployments in shop-staging? (the API server answers)',
      `${PROGRAM} can-i key/ci-deploy update deployments -n shop-staging`,
      '',
      '# In a script',
      `if ${PROGRAM} can-i maya@acme.com billing -n acme -q; then echo "maya sees invoices"; fi`,
    ],
  },

  async run({ args, flags, global, io, connect, now }) {
    if (args[0]!.startsWith('key/')) {
      if (args[2] === undefined)
        throw new UsageError('can-i key/NAME needs VERB and RESOURCE, such as: can-i key/ci-deploy update deployments -n shop-staging', NAME);
      const keyName = parseObjectName(args[0]!.slice('key/'.length), 'key/NAME', NAME);
      const answer = await reviewKeyAccess(await connect(), keyName, args[1]!, args[2], flags.string('namespace-label') ?? DEFAULT_NAMESPACE_LABEL);
      if (!flags.boolean('quiet')) emit(io, global.output, answer, () => `${answer.allowed ? 'yes' : 'no'}\n${answer.reason}\n`);
      return answer.allowed ? ExitCode.ok : ExitCode.no;
    }
    if (args[2] !== undefined)
      throw new UsageError(`RESOURCE is only for access keys (key/NAME); for a person use a permission: ${PERMISSIONS.join(', ')}`, NAME);
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
    const namespaceLabel = flags.string('namespace-label') ?? DEFAULT_NAMESPACE_LABEL;
    if (namespaceLabel.length > 316 || !LABEL_KEY.test(namespaceLabel)) {
      throw new UsageError(
        `--namespace-label ${JSON.stringify(namespaceLabel)} is not a label key; use the operator's tenancy.namespaceLabel, such as ${DEFAULT_NAMESPACE_LABEL}`,
        NAME,
      );
    }
    const operatorNamespace = parseObjectName(flags.string('operator-namespace') ?? DEFAULT_OPERATOR_NAMESPACE, '--operator-namespace', NAME);
    const policy = { namespaceLabel, operatorNamespace };
    const subjectKind = flags.string('subject') ?? 'User';
    if (subjectKind !== 'User' && subjectKind !== 'Group') {
      throw new UsageError(`--subject ${JSON.stringify(subjectKind)} is not User or Group; use the kubernetes backend's subject setting`, NAME);
    }
    const subjects: SubjectMapping = { subject: subjectKind, userPrefix: flags.string('user-prefix') ?? '', groupPrefix: flags.string('group-prefix') ?? '' };

    const conn = await connect();
    const [teams, memberships, invitations, projects] = await Promise.all([
      listAll<Team>(conn, resources.team),
      listAll<Membership>(conn, resources.membership),
      listAll<Invitation>(conn, resources.invitation),
      listAll<Project>(conn, resources.project),
    ]);
    const objects = { namespace: conn.namespace, teams, memberships, invitations, projects };
    const question: AccessQuestion = {
      email,
      permission,
      ...(project !== undefined ? { project } : {}),
      ...(environment !== undefined ? { environment } : {}),
      ...(team !== undefined ? { team } : {}),
      subjects,
    };
    const at = now();
    // Only the environment namespaces this answer rests on are read (none for team-wide permissions).
    const toRead = namespacesToRead(objects, question, at, policy);
    const readings = await Promise.all(toRead.map(async (name): Promise<[string, NamespaceReading]> => [name, await readNamespace(conn, name)]));
    const outcome = reviewPersonAccess(objects, question, at, { policy, namespaces: new Map(readings) });
    if (outcome.kind === 'teamNotFound') throw refuse(`team ${outcome.team} not found in namespace ${conn.namespace}`);
    if (outcome.kind === 'ambiguous') {
      throw new UsageError(`${email} is in several teams in namespace ${conn.namespace} (${outcome.teams.join(', ')}); say which with --team`, NAME);
    }
    const { answer } = outcome;
    if (!flags.boolean('quiet')) {
      const checked = answer.subject ? `checked for Kubernetes ${describeSubject(answer.subject)}\n` : '';
      emit(io, global.output, answer, () => `${answer.allowed ? 'yes' : 'no'}\n${answer.reason}\n${checked}`);
      // JSON and YAML carry them in the answer's `warnings`.
      if (global.output === 'table' || global.output === 'wide') for (const w of answer.warnings ?? []) io.err(`warning: ${w}\n`);
    }
    return answer.allowed ? ExitCode.ok : ExitCode.no;
  },
};
