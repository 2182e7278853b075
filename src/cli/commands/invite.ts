// `invite EMAIL --team T --role R [--project P[:envs]]... [--name N] [--message M]`:
// creates a standalone Invitation (the hosted products' "Invite member" button). The
// operator mails it; accepting it creates the Membership. Before sending, it runs the
// webhook's own validator over what it read (src/cli/admission-view.ts), so a refusal is
// the webhook's, with what to do instead, and nothing half-done.
import type { Invitation } from '../../api/generated.ts';
import { apiVersion, resources } from '../../api/resources.ts';
import { validateInvitation } from '../../admission/validators.ts';
import { labels } from '../../controllers/context.ts';
import { describeScope, teamWideScopeProblem } from '../../domain/scope.ts';
import { admissionViewOf, creationOf } from '../admission-view.ts';
import { loadTeam } from '../cluster.ts';
import { emit, type Command } from '../command.ts';
import { ExitCode, isApiStatus, refuse, UsageError } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { invitationNamePrefix, parseEmail, parseObjectName, parseProjectScopes, parseRoleFlag } from '../values.ts';

const NAME = 'invite';

export const invite: Command = {
  spec: {
    name: NAME,
    summary: 'Invite a person to a team (creates a standalone Invitation that the operator mails)',
    description: [
      'Invite a person to a team. Creates a standalone Invitation; the operator mails the person a',
      'single-use link, and accepting it creates their Membership. The invitation holds a seat',
      'until it is accepted, revoked or expires.',
      '',
      'Before creating anything it checks what the team would refuse — an unknown team or project,',
      'a person who is already the owner, a member or invited, no seat left — and says what to do.',
    ].join('\n'),
    args: [{ name: 'EMAIL', description: "the person's email address; the mail goes here" }],
    flags: [
      { name: 'team', value: 'TEAM', required: true, description: 'the team to invite to' },
      { name: 'role', value: 'ROLE', required: true, description: 'admin, developer, observer or billing' },
      {
        name: 'project',
        value: 'PROJECT[:ENV,...]',
        multiple: true,
        description: 'limit a developer or observer to a project (and some of its environments); repeatable',
      },
      { name: 'name', value: 'NAME', description: 'the Invitation object name (default: from the email, with a random suffix)' },
      { name: 'display-name', value: 'TEXT', description: "the person's display name, used in the mail" },
      { name: 'message', value: 'TEXT', description: 'a note shown in the mail and on the accept page' },
    ],
    examples: [
      '# An admin of the whole team',
      `${PROGRAM} invite noah@acme.com --team acme --role admin -n acme`,
      '',
      '# A developer on the staging environment of the shop project, with a note',
      `${PROGRAM} invite riley@acme.com --team acme --role developer --project shop:staging --message "Welcome aboard"`,
      '',
      '# An observer of two projects; print the created Invitation as YAML',
      `${PROGRAM} invite jordan@acme.com --team acme --role observer --project shop --project blog -o yaml`,
    ],
  },

  async run({ args, flags, global, io, connect, now }) {
    const email = parseEmail(args[0]!, NAME);
    const teamName = parseObjectName(flags.string('team')!, '--team', NAME);
    const role = parseRoleFlag(flags.string('role')!, NAME);
    const projects = parseProjectScopes(flags.all('project'), NAME);
    // Flag checks, before connecting (the same domain rule the validator applies).
    const wideProblem = teamWideScopeProblem(role, projects);
    if (wideProblem !== undefined) throw new UsageError(wideProblem.replace('remove spec.projects', 'drop --project'), NAME);
    const objectName = flags.string('name');
    if (objectName !== undefined) parseObjectName(objectName, '--name', NAME);

    const conn = await connect();
    const snapshot = await loadTeam(conn, teamName);
    const ns = conn.namespace;

    const invitation: Invitation = {
      apiVersion,
      kind: 'Invitation',
      metadata: {
        ...(objectName !== undefined ? { name: objectName } : { generateName: invitationNamePrefix(email) }),
        namespace: ns,
        labels: { [labels.team]: teamName, [labels.createdBy]: 'kubectl-roster' },
      },
      spec: {
        team: teamName,
        email,
        role,
        ...(flags.string('display-name') ? { name: flags.string('display-name') } : {}),
        ...(projects !== undefined ? { projects } : {}),
        ...(flags.string('message') ? { message: flags.string('message') } : {}),
      },
    };
    // What the webhook would say (owner, member, pending invitation, projects, seats).
    const verdict = validateInvitation(creationOf(invitation), admissionViewOf(snapshot), { now: now() });
    if (!verdict.allowed) throw refuse(verdict.message);
    for (const warning of verdict.warnings) io.err(`Warning: ${warning}\n`);
    let created: Invitation;
    try {
      created = await conn.client.create(resources.invitation, invitation);
    } catch (e) {
      if (isApiStatus(e, 409, 'AlreadyExists')) {
        throw refuse(`an Invitation named ${objectName} already exists in namespace ${ns}; pick another --name`);
      }
      throw e;
    }
    emit(
      io,
      global.output,
      created,
      () =>
        `invitation.roster.dev/${created.metadata.name} created: ${email} invited to team ${teamName} as ${role} (${describeScope(role, projects)}); the operator mails the link\n`,
    );
    return ExitCode.ok;
  },
};
