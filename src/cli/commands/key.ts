// `key create|list|token|revoke`: access keys (SPEC §9). `create` writes an AccessKey (the
// webhook stamps you as its owner), `list` shows a team's keys, `token` mints a short-lived
// token through the TokenRequest API and prints only the token (for `$(...)`), `revoke`
// deletes the key, which deletes its ServiceAccount and so every token it minted.
import type { AccessKey } from '../../api/generated.ts';
import { apiVersion, resources } from '../../api/resources.ts';
import { keyServiceAccountName } from '../../domain/access-keys.ts';
import { parseDuration } from '../../domain/duration.ts';
import type { KubeClient, KubeObject } from '../../runtime/kube-client.ts';
import { listAll } from '../cluster.ts';
import { emit, type Command } from '../command.ts';
import { ExitCode, refuse, UsageError } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { renderTable } from '../output.ts';
import { parseObjectName, parseProjectScopes } from '../values.ts';

const NAME = 'key';
export const KEY_ACTIONS = ['create', 'list', 'token', 'revoke'] as const;
const ACTIONS = KEY_ACTIONS;

interface TokenRequestStatus {
  status?: { token?: string; expirationTimestamp?: string };
}

export const key: Command = {
  spec: {
    name: NAME,
    summary: 'Access keys for automation: create, list, mint a short-lived token, revoke',
    description: [
      'Access keys are credentials for automation (CI) that act for you and never get more than you',
      'have: their rights are the role and projects they ask for, intersected with your own, recomputed',
      'whenever your membership changes. Only the owner or an admin of a team may create keys.',
      '',
      '  key create NAME --team TEAM --role developer|observer [--project P[:ENV,...]] --expires 720h',
      '  key list TEAM',
      '  key token NAME [--duration 1h]   prints only the token, for $(...)',
      '  key revoke NAME                  deletes the key; every token it minted stops working',
    ].join('\n'),
    args: [
      { name: 'ACTION', description: `one of ${ACTIONS.join(', ')}` },
      { name: 'NAME', description: 'the key (for list: the Team)' },
    ],
    flags: [
      { name: 'team', value: 'TEAM', description: 'create: the Team the key belongs to' },
      { name: 'role', value: 'ROLE', choices: ['developer', 'observer'], description: 'create: developer or observer' },
      { name: 'project', value: 'PROJECT[:ENV,...]', multiple: true, description: 'create: limit the key to a project (and environments); repeatable' },
      { name: 'expires', value: 'DURATION', description: 'create: how long the key lives, as a Go duration (default 720h, at most the operator limit)' },
      { name: 'duration', value: 'DURATION', description: 'token: how long the token lives (default 1h)' },
    ],
    examples: [
      '# A deploy key for staging, for 30 days',
      `${PROGRAM} key create ci-deploy --team acme --role developer --project shop:staging --expires 720h -n acme`,
      '# In the pipeline: a one-hour token',
      `TOKEN=$(${PROGRAM} key token ci-deploy -n acme --duration 1h)`,
      `${PROGRAM} key list acme -n acme`,
      `${PROGRAM} key revoke ci-deploy -n acme`,
    ],
  },

  async run({ args, flags, global, io, connect, now }) {
    const action = args[0]!;
    if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`key ${action}: use one of ${ACTIONS.join(', ')}`, NAME);
    const name = parseObjectName(args[1]!, action === 'list' ? 'TEAM' : 'NAME', NAME);
    const conn = await connect();
    const ns = conn.namespace;
    if (action === 'list') {
      const keys = (await listAll<AccessKey>(conn, resources.accessKey)).filter((k) => k.spec.team === name);
      emit(io, global.output, keys, () =>
        renderTable(
          ['NAME', 'OWNER', 'ROLE', 'EFFECTIVE', 'PHASE', 'EXPIRES'],
          keys.map((k) => [k.metadata.name ?? '', k.spec.owner ?? '', k.spec.role, k.status?.effective?.role ?? '-', k.status?.phase ?? '-', k.spec.expiresAt]),
        ),
      );
      return ExitCode.ok;
    }
    if (action === 'create') {
      const team = flags.string('team');
      const role = flags.string('role');
      if (!team || !role) throw new UsageError('key create needs --team and --role', NAME);
      const lifetime = parseDuration(flags.string('expires') ?? '720h');
      const projects = parseProjectScopes(flags.all('project'), NAME);
      const expiresAt = new Date(now().getTime() + lifetime).toISOString().replace(/\.\d+Z$/, 'Z');
      const created = await conn.client.create<AccessKey>(resources.accessKey, {
        apiVersion,
        kind: 'AccessKey',
        metadata: { name, namespace: ns },
        spec: { team, role: role as AccessKey['spec']['role'], ...(projects ? { projects } : {}), expiresAt },
      });
      emit(io, global.output, created, () => `accesskey.roster.dev/${name} created for ${created.spec.owner ?? 'you'}, expires ${expiresAt}\n`);
      return ExitCode.ok;
    }
    const existing = await conn.client.find<AccessKey>(resources.accessKey, ns, name);
    if (!existing) throw refuse(`access key ${name} not found in namespace ${ns}; list them with: ${PROGRAM} key list TEAM -n ${ns}`);
    if (action === 'revoke') {
      await conn.client.delete(resources.accessKey, ns, name);
      emit(
        io,
        global.output,
        { name, revoked: true },
        () => `accesskey.roster.dev/${name} revoked: its ServiceAccount goes, and every token it minted with it\n`,
      );
      return ExitCode.ok;
    }
    if (existing.status?.phase !== 'Active') {
      io.err(`note: key ${name} is ${existing.status?.phase ?? 'not reconciled yet'}; a token for it grants nothing now\n`);
    }
    const seconds = Math.round(parseDuration(flags.string('duration') ?? '1h') / 1000);
    const review = await conn.client.request<TokenRequestStatus>(
      'create',
      'POST',
      `/api/v1/namespaces/${ns}/serviceaccounts/${keyServiceAccountName(name)}/token`,
      {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: seconds } },
      },
    );
    const token = review.status?.token;
    if (!token) throw refuse(`the API server returned no token for key ${name}`);
    // Only the token, so that TOKEN=$(kubectl roster key token NAME) works.
    io.out(`${token}\n`);
    return ExitCode.ok;
  },
};

/** API groups of the resources a deploy touches, for `can-i key/NAME VERB RESOURCE` (else RESOURCE.GROUP, as kubectl). */
const KNOWN_GROUPS: Readonly<Record<string, string>> = {
  deployments: 'apps',
  statefulsets: 'apps',
  daemonsets: 'apps',
  replicasets: 'apps',
  jobs: 'batch',
  cronjobs: 'batch',
  ingresses: 'networking.k8s.io',
  networkpolicies: 'networking.k8s.io',
  horizontalpodautoscalers: 'autoscaling',
  roles: 'rbac.authorization.k8s.io',
  rolebindings: 'rbac.authorization.k8s.io',
};

interface ReviewStatus {
  status?: { allowed?: boolean; reason?: string };
}

export interface KeyAccessAnswer {
  readonly key: string;
  readonly user: string;
  readonly allowed: boolean;
  readonly reason: string;
}

/**
 * `can-i key/NAME VERB RESOURCE -n NS`: what the API server itself says the key's
 * ServiceAccount may do (a SubjectAccessReview). The key lives in the team's control
 * namespace: NS itself, or the team NS is assigned to (its tenancy label).
 */
export async function reviewKeyAccess(
  conn: { client: KubeClient; namespace: string },
  keyName: string,
  verb: string,
  resource: string,
  namespaceLabel: string,
): Promise<KeyAccessAnswer> {
  const ns = conn.namespace;
  let control = ns;
  let found = await conn.client.find<AccessKey>(resources.accessKey, ns, keyName).catch(() => undefined);
  if (!found) {
    const namespace = await conn.client.find<KubeObject>(resources.namespace, undefined, ns);
    const assigned = namespace?.metadata.labels?.[namespaceLabel];
    if (assigned) {
      control = assigned;
      found = await conn.client.find<AccessKey>(resources.accessKey, assigned, keyName);
    }
  }
  if (!found)
    throw refuse(`access key ${keyName} not found in namespace ${ns} nor in the team namespace ${ns} is assigned to; run it with -n on the team's namespace`);
  const dot = resource.indexOf('.');
  const [plural, group] = dot >= 0 ? [resource.slice(0, dot), resource.slice(dot + 1)] : [resource, KNOWN_GROUPS[resource] ?? ''];
  const user = `system:serviceaccount:${control}:${keyServiceAccountName(keyName)}`;
  const review = await conn.client.create<ReviewStatus & KubeObject>(resources.subjectAccessReview, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    metadata: {},
    spec: {
      user,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${control}`, 'system:authenticated'],
      resourceAttributes: { namespace: ns, verb, group, resource: plural },
    },
  } as ReviewStatus & KubeObject);
  const allowed = review.status?.allowed === true;
  const effective = found.status?.effective?.role ? `${found.status.effective.role}` : 'nothing';
  const reason = `key ${keyName} of ${found.spec.owner ?? '(no owner)'} is ${found.status?.phase ?? 'not reconciled yet'} and holds ${effective}; the API server says ${allowed ? 'yes' : 'no'} to ${verb} ${resource} in ${ns} for ${user}`;
  return { key: `${control}/${keyName}`, user, allowed, reason };
}
