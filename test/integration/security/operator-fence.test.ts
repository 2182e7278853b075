// The operator's fence (SPEC §7, issue 11): the chart's ValidatingAdmissionPolicies and RBAC,
// rendered by `helm template` and installed into the real API server, hold the chart's
// ServiceAccount — with a real token from the TokenRequest API, as a pod would have it — to
// what the operator writes. Each attack is what a thief of that token would try; each must be
// refused with a message that says what and why, and leave the would-be grantee with nothing
// (SubjectAccessReview, the API behind `kubectl auth can-i`). Positive controls show the fence
// lets the operator's own writes through, so a fence that refuses everything fails here too.
//
// The control plane is shared with other test files: everything here is named for this run
// (release, namespaces, ServiceAccount), the policies match only this run's ServiceAccount,
// and everything is removed afterwards.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resources } from '../../../src/api/resources.ts';
import { GRANT_LABEL, MANAGED_BY, TEAM_LABEL, TEAM_NAMESPACE_LABEL, teamClusterRoleObjects } from '../../../src/backends/identity/kubernetes.ts';
import { KubeApiError, KubeClient, resourcePath, type KubeObject, type ResourceRef } from '../../../src/runtime/kube-client.ts';
import { eventually } from '../support/eventually.ts';
import { renderChart, type K8sObject } from '../chart/helm.ts';
import { serviceAccountKubeconfig } from '../chart/pod.ts';

const kubeconfig = inject('kubeconfigPath');
const run = randomBytes(4).toString('hex');
const release = `fence${run}`;
const fullname = `${release}-roster`;
const releaseNs = `fence-${run}-system`;
const acmeNs = `fence-${run}-acme`; // team acme's control namespace
const globexNs = `fence-${run}-globex`; // team globex's control namespace
const acmeProd = `fence-${run}-acme-prod`; // assigned to acme
const globexProd = `fence-${run}-globex-prod`; // assigned to globex
const looseNs = `fence-${run}-loose`; // assigned to nobody
const ASSIGN = 'roster.dev/team'; // the chart's default tenancy.namespaceLabel
const mallory = `mallory-${run}@evil.example`;
const riley = `riley-${run}@acme.example`;
const saUser = `system:serviceaccount:${releaseNs}:${fullname}`;

const policyRefs = {
  ValidatingAdmissionPolicy: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicies', namespaced: false },
  ValidatingAdmissionPolicyBinding: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicybindings', namespaced: false },
} satisfies Record<string, ResourceRef>;
/** The chart's objects this file installs: the operator's identity, its RBAC and its fence (no Deployment, no webhooks, no shared roster:team-* roles). */
const refs: Record<string, ResourceRef> = {
  ServiceAccount: resources.serviceAccount,
  ClusterRole: resources.clusterRole,
  ClusterRoleBinding: resources.clusterRoleBinding,
  Role: resources.role,
  RoleBinding: resources.roleBinding,
  ...policyRefs,
};

let admin: KubeClient;
/** The chart's ServiceAccount, through a TokenRequest token. */
let sa: KubeClient;
let installed: K8sObject[] = [];
/** roster:team-* ClusterRoles this file had to create (removed afterwards). */
const createdTeamRoles: string[] = [];
/** Objects outside this run's namespaces that a broken fence might have let through. */
const strays: Array<[ResourceRef, string]> = [
  [resources.roleBinding, `fence-${run}-admin`],
  [resources.roleBinding, `fence-${run}-cluster-admin`],
  [resources.configMap, `evil-${run}`],
  [resources.configMap, `roster-seats-${run}`],
];

interface Status {
  status: number;
  message: string;
}

/** Runs a request that should be refused and returns how it was refused (fails when it was not). */
async function refused(attempt: () => Promise<unknown>): Promise<Status> {
  try {
    await attempt();
  } catch (e) {
    if (e instanceof KubeApiError) return { status: e.status, message: e.message };
    throw e;
  }
  throw new Error('the API server allowed it');
}

async function canI(user: string, verb: string, resource: string, namespace: string, group = '', groups?: string[]): Promise<boolean> {
  const review = await admin.create<KubeObject & { status?: { allowed: boolean } }>(resources.subjectAccessReview, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    metadata: {},
    spec: { user, ...(groups ? { groups } : {}), resourceAttributes: { namespace, verb, group, resource } },
  } as KubeObject);
  return review.status?.allowed ?? false;
}

/** Nothing a person with a namespace-level grant could do there. */
async function gainedNothing(user: string, namespace: string, groups?: string[]): Promise<void> {
  for (const [verb, resource, group] of [
    ['get', 'secrets', ''],
    ['create', 'pods', ''],
    ['update', 'deployments', 'apps'],
    ['create', 'rolebindings', 'rbac.authorization.k8s.io'],
    ['update', 'teams', 'roster.dev'],
    ['create', 'memberships', 'roster.dev'],
  ] as const) {
    expect(await canI(user, verb, resource, namespace, group, groups), `${user} ${verb} ${resource} in ${namespace}`).toBe(false);
  }
}

interface BindingOptions {
  name: string;
  user?: string;
  /** Roster's labels for this team control namespace (default: acme's); null = no labels at all. */
  teamNamespace?: string | null;
  roleKind?: 'ClusterRole' | 'Role';
  subjects?: Array<{ kind: string; name: string; apiGroup?: string; namespace?: string }>;
}

/** A RoleBinding as the kubernetes identity backend writes it (labels included). */
function binding(namespace: string, role: string, options: BindingOptions): KubeObject {
  const teamNamespace = options.teamNamespace === undefined ? acmeNs : options.teamNamespace;
  const labels =
    teamNamespace === null
      ? undefined
      : { [MANAGED_BY]: 'roster', [TEAM_LABEL]: teamNamespace === acmeNs ? 'acme' : 'globex', [TEAM_NAMESPACE_LABEL]: teamNamespace, [GRANT_LABEL]: `g${run}` };
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: options.name, namespace, ...(labels ? { labels } : {}) },
    subjects: options.subjects ?? [{ kind: 'User', name: options.user ?? mallory, apiGroup: 'rbac.authorization.k8s.io' }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: options.roleKind ?? 'ClusterRole', name: role },
  } as KubeObject;
}

function configMap(namespace: string, name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { seats: '{}' } } as KubeObject;
}

/** Server-side apply as the ServiceAccount, optionally only as a dry run (admission runs, nothing is stored). */
function applyAs(client: KubeClient, ref: ResourceRef, object: KubeObject, dryRun = false): Promise<KubeObject> {
  return client.request<KubeObject>('patch', 'PATCH', resourcePath(ref, object.metadata.namespace, object.metadata.name), {
    body: object,
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: 'roster-operator', force: true, ...(dryRun ? { dryRun: 'All' } : {}) },
  });
}

function createDry(client: KubeClient, ref: ResourceRef, object: KubeObject): Promise<KubeObject> {
  return client.request<KubeObject>('create', 'POST', resourcePath(ref, object.metadata.namespace), { body: object, query: { dryRun: 'All' } });
}

async function namespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
}

const fenceMessage = (kind: string, ns: string, name: string) => `roster operator fence: ${kind} ${ns}/${name} refused: `;

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig, { fieldManager: 'roster-test' });
  const objects = await renderChart({}, { release, namespace: releaseNs });
  installed = objects.filter((o) => refs[o.kind] && !(o.kind === 'ClusterRole' && o.metadata.name.startsWith('roster:')));
  expect(installed.filter((o) => o.kind === 'ValidatingAdmissionPolicy')).toHaveLength(6);

  await namespace(releaseNs);
  await namespace(acmeNs);
  await namespace(globexNs);
  await namespace(acmeProd, { [ASSIGN]: acmeNs });
  await namespace(globexProd, { [ASSIGN]: globexNs });
  await namespace(looseNs);
  for (const o of installed) await admin.apply(refs[o.kind]!, o as unknown as KubeObject);
  for (const role of teamClusterRoleObjects()) {
    if (!(await admin.find(resources.clusterRole, undefined, role.metadata.name ?? ''))) {
      await admin.create(resources.clusterRole, role);
      createdTeamRoles.push(role.metadata.name ?? '');
    }
  }

  const dir = mkdtempSync(join(tmpdir(), 'roster-fence-'));
  sa = KubeClient.fromFile(await serviceAccountKubeconfig(admin, kubeconfig, releaseNs, fullname, join(dir, 'kubeconfig')), {
    fieldManager: 'roster-operator',
  });

  // The API server loads policies asynchronously: wait until each of the four refuses (dry runs, nothing is stored).
  await eventually(
    async () => {
      expect((await refused(() => createDry(sa, resources.configMap, configMap(acmeNs, 'probe')))).message).toContain('roster operator fence');
      expect((await refused(() => createDry(sa, resources.roleBinding, binding(acmeProd, 'edit', { name: 'probe', teamNamespace: null })))).message).toContain(
        'roster operator fence',
      );
      const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'probe', namespace: releaseNs }, type: 'Opaque' } as KubeObject;
      expect(await refused(() => createDry(sa, resources.secret, secret))).toMatchObject({ status: 403 });
      expect((await refused(() => createDry(sa, resources.secret, secret))).message).toContain('roster operator fence');
      const wide = { ...teamClusterRoleObjects()[0]!, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } as KubeObject;
      expect((await refused(() => applyAs(sa, resources.clusterRole, wide, true))).message).toContain('roster operator fence');
    },
    30_000,
    250,
  );
});

afterAll(async () => {
  if (!admin) return;
  for (const o of [...installed].reverse()) await admin.delete(refs[o.kind]!, o.metadata.namespace, o.metadata.name).catch(() => false);
  for (const [ref, name] of strays) await admin.delete(ref, 'kube-system', name).catch(() => false);
  await admin.delete(resources.clusterRoleBinding, undefined, `fence-${run}-widened`).catch(() => false);
  await admin.delete(resources.clusterRole, undefined, `fence-${run}-widened`).catch(() => false);
  for (const name of createdTeamRoles) await admin.delete(resources.clusterRole, undefined, name).catch(() => false);
  for (const name of [acmeNs, globexNs, acmeProd, globexProd, looseNs, releaseNs]) await admin.delete(resources.namespace, undefined, name).catch(() => false);
  sa?.close();
  admin.close();
});

describe('the chart installs the fence for its own ServiceAccount', () => {
  it('one policy per kind the operator writes, each bound with Deny and matching only the ServiceAccount', async () => {
    const policies = installed.filter((o) => o.kind === 'ValidatingAdmissionPolicy');
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(
      ['clusterroles', 'configmaps', 'rolebindings', 'roles', 'secrets', 'serviceaccounts'].map((k) => `${fullname}-operator-fence-${k}`),
    );
    for (const p of policies) {
      const live = await admin.get<KubeObject & { spec: { failurePolicy: string; matchConditions: Array<{ expression: string }> } }>(
        policyRefs.ValidatingAdmissionPolicy,
        undefined,
        p.metadata.name,
      );
      expect(live.spec.failurePolicy).toBe('Fail');
      expect(live.spec.matchConditions).toEqual([{ name: 'operator-service-account', expression: `request.userInfo.username == "${saUser}"` }]);
      const bound = await admin.get<KubeObject & { spec: { policyName: string; validationActions: string[] } }>(
        policyRefs.ValidatingAdmissionPolicyBinding,
        undefined,
        p.metadata.name,
      );
      expect(bound.spec).toMatchObject({ policyName: p.metadata.name, validationActions: ['Deny'] });
    }
  });

  it('leaves everyone else to RBAC: an administrator writes what the operator may not', async () => {
    await admin.create(resources.configMap, configMap(acmeNs, 'not-seats-admin'));
    expect(await admin.delete(resources.configMap, acmeNs, 'not-seats-admin')).toBe(true);
  });
});

describe("the ServiceAccount, with the chart's RBAC, cannot grant outside the fence", () => {
  it('binds ClusterRole admin in kube-system: refused (system namespace), and the grantee has nothing there', async () => {
    // RBAC alone would allow it: the operator has `bind` on admin and creates RoleBindings cluster-wide.
    await eventually(async () => expect(await canI(saUser, 'create', 'rolebindings', 'kube-system', 'rbac.authorization.k8s.io')).toBe(true), 10_000, 100);
    const name = `fence-${run}-admin`;
    const denial = await refused(() => sa.create(resources.roleBinding, binding('kube-system', 'admin', { name })));
    expect(denial.status).toBe(403);
    expect(denial.message).toContain(
      `${fenceMessage('RoleBinding', 'kube-system', name)}namespace kube-system is a system namespace or the operator's own; no team gets access there`,
    );
    // Labelled as assigned does not help: no label opens a system namespace.
    await gainedNothing(mallory, 'kube-system');
    expect(await admin.find(resources.roleBinding, 'kube-system', name)).toBeUndefined();
  });

  it("binds ClusterRole admin in the operator's own namespace (its token, its Secrets): refused", async () => {
    const name = `fence-${run}-own`;
    const denial = await refused(() => sa.create(resources.roleBinding, binding(releaseNs, 'admin', { name })));
    expect(denial.message).toContain(`${fenceMessage('RoleBinding', releaseNs, name)}namespace ${releaseNs} is a system namespace or the operator's own`);
    await gainedNothing(mallory, releaseNs);
  });

  it("binds cluster-admin with Roster's labels in an assigned namespace: refused by RBAC, and by the fence even when RBAC would allow it", async () => {
    const name = `fence-${run}-cluster-admin`;
    const byRbac = await refused(() => sa.create(resources.roleBinding, binding(acmeProd, 'cluster-admin', { name })));
    expect(byRbac.status).toBe(403);
    await gainedNothing(mallory, acmeProd);

    // A cluster whose own RBAC for the operator is wider than the chart's (rbac.create=false
    // with a careless role): bind on every role. The fence still refuses.
    await admin.create(resources.clusterRole, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `fence-${run}-widened` },
      rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles', 'roles'], verbs: ['bind'] }],
    } as KubeObject);
    await admin.create(resources.clusterRoleBinding, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `fence-${run}-widened` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `fence-${run}-widened` },
      subjects: [{ kind: 'ServiceAccount', name: fullname, namespace: releaseNs }],
    } as KubeObject);
    try {
      await eventually(async () => expect(await canI(saUser, 'bind', 'clusterroles', acmeProd, 'rbac.authorization.k8s.io')).toBe(true), 10_000, 100);
      const denial = await refused(() => sa.create(resources.roleBinding, binding(acmeProd, 'cluster-admin', { name })));
      expect(denial.status).toBe(403);
      expect(denial.message).toContain(
        `${fenceMessage('RoleBinding', acmeProd, name)}ClusterRole cluster-admin is not one the operator binds (admin, edit, view, roster:team-owner, roster:team-admin, roster:team-billing, from operator.roleBindings)`,
      );
      await gainedNothing(mallory, acmeProd);

      // A Role of the namespace, whatever it holds, is refused the same way.
      const role = await refused(() => sa.create(resources.roleBinding, binding(acmeProd, 'anything', { name: `fence-${run}-role`, roleKind: 'Role' })));
      expect(role.message).toContain(
        `${fenceMessage('RoleBinding', acmeProd, `fence-${run}-role`)}it references Role anything; the operator binds only an access key's own token Role`,
      );
    } finally {
      await admin.delete(resources.clusterRoleBinding, undefined, `fence-${run}-widened`);
      await admin.delete(resources.clusterRole, undefined, `fence-${run}-widened`);
    }
    expect(await admin.find(resources.roleBinding, acmeProd, name)).toBeUndefined();
  });

  it('binds edit for team acme in a namespace assigned to team globex: refused', async () => {
    const name = `fence-${run}-foreign`;
    const denial = await refused(() => sa.create(resources.roleBinding, binding(globexProd, 'edit', { name })));
    expect(denial.status).toBe(403);
    expect(denial.message).toContain(
      `${fenceMessage('RoleBinding', globexProd, name)}namespace ${globexProd} is assigned to the team in namespace ${globexNs} (${ASSIGN}=${globexNs}), not to the team in namespace ${acmeNs}`,
    );
    await gainedNothing(mallory, globexProd);
  });

  it('binds edit in a namespace no team is assigned: refused, with the command that assigns it', async () => {
    const name = `fence-${run}-loose`;
    const denial = await refused(() => sa.create(resources.roleBinding, binding(looseNs, 'edit', { name })));
    expect(denial.message).toContain(
      `${fenceMessage('RoleBinding', looseNs, name)}namespace ${looseNs} is not assigned to a team; a cluster admin assigns it with \`kubectl label namespace ${looseNs} ${ASSIGN}=${acmeNs}\``,
    );
    await gainedNothing(mallory, looseNs);
  });

  it("binds edit in the team's own control namespace (where its Team and seat ledger live): refused", async () => {
    await namespace(acmeNs, { [ASSIGN]: acmeNs }); // even labelled as its own environment
    try {
      const name = `fence-${run}-control`;
      const denial = await refused(() => sa.create(resources.roleBinding, binding(acmeNs, 'edit', { name })));
      expect(denial.message).toContain(
        `${fenceMessage('RoleBinding', acmeNs, name)}namespace ${acmeNs} is the team's control namespace, which never serves as an environment`,
      );
      await gainedNothing(mallory, acmeNs);
    } finally {
      await namespace(acmeNs);
    }
  });

  it("binds roster:team-admin for team acme in team globex's control namespace: refused", async () => {
    const name = `fence-${run}-team-admin`;
    const denial = await refused(() => sa.create(resources.roleBinding, binding(globexNs, 'roster:team-admin', { name })));
    expect(denial.message).toContain(
      `${fenceMessage('RoleBinding', globexNs, name)}ClusterRole roster:team-admin is bound only in the team's own namespace (${acmeNs}, from its roster.dev/team-namespace label), not in ${globexNs}`,
    );
    await gainedNothing(mallory, globexNs);
  });

  it("writes a binding without Roster's labels, or one for a group, or for a system identity: refused", async () => {
    const unlabelled = await refused(() =>
      sa.create(resources.roleBinding, binding(acmeProd, 'edit', { name: `fence-${run}-unlabelled`, teamNamespace: null })),
    );
    expect(unlabelled.message).toContain(
      `${fenceMessage('RoleBinding', acmeProd, `fence-${run}-unlabelled`)}it is not labelled app.kubernetes.io/managed-by=roster`,
    );
    await gainedNothing(mallory, acmeProd);

    const everyone = [{ kind: 'Group', name: 'system:authenticated', apiGroup: 'rbac.authorization.k8s.io' }];
    const group = await refused(() => sa.create(resources.roleBinding, binding(acmeProd, 'edit', { name: `fence-${run}-group`, subjects: everyone })));
    expect(group.message).toContain(
      'its subjects must be people (kind User, not a system: identity), an access key of the team (ServiceAccount roster-key-* in',
    );
    await gainedNothing(`someone-${run}`, acmeProd, ['system:authenticated']);

    const robot = [{ kind: 'User', name: `system:serviceaccount:${acmeProd}:default`, apiGroup: 'rbac.authorization.k8s.io' }];
    const system = await refused(() => sa.create(resources.roleBinding, binding(acmeProd, 'edit', { name: `fence-${run}-system-user`, subjects: robot })));
    expect(system.message).toContain('its subjects must be people');
    await gainedNothing(`system:serviceaccount:${acmeProd}:default`, acmeProd);
  });

  it('takes over a binding it did not make by labelling it: refused', async () => {
    const name = `fence-${run}-platform`;
    await admin.create(resources.roleBinding, binding(acmeProd, 'view', { name, teamNamespace: null, user: riley }));
    const takeover = binding(acmeProd, 'view', { name, user: mallory });
    const denial = await refused(() => applyAs(sa, resources.roleBinding, takeover));
    expect(denial.message).toContain(
      'the existing RoleBinding is not labelled app.kubernetes.io/managed-by=roster; the operator does not take over bindings it did not make',
    );
    expect(await canI(mallory, 'get', 'pods', acmeProd)).toBe(false);
    await admin.delete(resources.roleBinding, acmeProd, name);
  });
});

describe("the ServiceAccount still does the operator's work (positive controls)", () => {
  it('binds edit for team acme in a namespace assigned to acme, updates it, and removes it after the assignment is withdrawn', async () => {
    const name = `fence-${run}-riley`;
    await sa.create(resources.roleBinding, binding(acmeProd, 'edit', { name, user: riley }));
    await eventually(async () => expect(await canI(riley, 'update', 'deployments', acmeProd, 'apps')).toBe(true), 10_000, 100);
    expect(await canI(riley, 'update', 'deployments', globexProd, 'apps')).toBe(false);
    // The backend's server-side apply of the same binding (an update) passes too.
    await applyAs(sa, resources.roleBinding, binding(acmeProd, 'edit', { name, user: riley }));

    // The platform withdraws the namespace: no new binding there, but removing Roster's own must work.
    await namespace(acmeProd);
    try {
      const again = await refused(() => sa.create(resources.roleBinding, binding(acmeProd, 'edit', { name: `${name}-2`, user: riley })));
      expect(again.message).toContain(`namespace ${acmeProd} is not assigned to a team`);
      expect(await sa.delete(resources.roleBinding, acmeProd, name)).toBe(true);
      await eventually(async () => expect(await canI(riley, 'update', 'deployments', acmeProd, 'apps')).toBe(false), 10_000, 100);
    } finally {
      await namespace(acmeProd, { [ASSIGN]: acmeNs });
    }
  });

  it("binds roster:team-admin in the team's own control namespace", async () => {
    const name = `fence-${run}-own-team-admin`;
    await sa.create(resources.roleBinding, binding(acmeNs, 'roster:team-admin', { name, user: riley }));
    await eventually(async () => expect(await canI(riley, 'create', 'memberships', acmeNs, 'roster.dev')).toBe(true), 10_000, 100);
    expect(await canI(riley, 'create', 'memberships', globexNs, 'roster.dev')).toBe(false);
    expect(await sa.delete(resources.roleBinding, acmeNs, name)).toBe(true);
  });

  it('keeps its roster:team-* ClusterRoles in place exactly as it applies them (a dry run: the roles are shared)', async () => {
    for (const role of teamClusterRoleObjects()) await applyAs(sa, resources.clusterRole, role, true);
  });
});

describe('the ServiceAccount writes only seat ledgers, its own certificate and its own roles', () => {
  it('refuses ConfigMap evil in kube-system and not-seats in a team namespace; allows roster-seats-acme in acme', async () => {
    const evil = await refused(() => sa.create(resources.configMap, configMap('kube-system', `evil-${run}`)));
    expect(evil.status).toBe(403);
    expect(evil.message).toContain(
      `${fenceMessage('ConfigMap', 'kube-system', `evil-${run}`)}the operator writes only seat ledgers (ConfigMaps named roster-seats-<team>)`,
    );
    expect(await admin.find(resources.configMap, 'kube-system', `evil-${run}`)).toBeUndefined();

    const seatsInSystem = await refused(() => sa.create(resources.configMap, configMap('kube-system', `roster-seats-${run}`)));
    expect(seatsInSystem.message).toContain("namespace kube-system is a system namespace or the operator's own; no team's seat ledger lives there");

    const notSeats = await refused(() => sa.create(resources.configMap, configMap(acmeNs, 'not-seats')));
    expect(notSeats.message).toContain(`${fenceMessage('ConfigMap', acmeNs, 'not-seats')}the operator writes only seat ledgers`);
    expect(await admin.find(resources.configMap, acmeNs, 'not-seats')).toBeUndefined();

    const ledger = await sa.create(resources.configMap, configMap(acmeNs, 'roster-seats-acme'));
    await sa.replace(resources.configMap, { ...ledger, data: { seats: '{"a":1}' } } as KubeObject); // compare-and-swap update
    expect((await admin.get<KubeObject & { data: Record<string, string> }>(resources.configMap, acmeNs, 'roster-seats-acme')).data).toEqual({
      seats: '{"a":1}',
    });
  });

  it("refuses a Secret that is not its webhook certificate, such as a service-account token under the certificate's name", async () => {
    const secretName = `${fullname}-webhook-tls`;
    const token = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secretName, namespace: releaseNs, annotations: { 'kubernetes.io/service-account.name': fullname } },
      type: 'kubernetes.io/service-account-token',
    } as KubeObject;
    const denial = await refused(() => sa.create(resources.secret, token));
    expect(denial.message).toContain(
      `${fenceMessage('Secret', releaseNs, secretName)}its webhook certificate is a Secret of type kubernetes.io/tls; another type (such as a service-account token) is refused`,
    );
    const other = await refused(() =>
      sa.create(resources.secret, { ...token, metadata: { name: `other-${run}`, namespace: releaseNs }, type: 'Opaque' } as KubeObject),
    );
    expect(other.message).toContain(`the operator writes only its webhook certificate, Secret ${releaseNs}/${secretName}`);
    expect(await admin.find(resources.secret, releaseNs, secretName)).toBeUndefined();
    // Its certificate itself goes through.
    await sa.create(resources.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secretName, namespace: releaseNs },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': '', 'tls.key': '' },
    } as KubeObject);
  });

  it('refuses to widen its roster:team-* ClusterRoles (it holds escalate on them) or to aggregate other roles into them', async () => {
    const owner = teamClusterRoleObjects()[0]!;
    expect(await canI(saUser, 'escalate', 'clusterroles', '', 'rbac.authorization.k8s.io')).toBe(false); // only by name
    const wide = await refused(() =>
      applyAs(sa, resources.clusterRole, { ...owner, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] } as KubeObject),
    );
    expect(wide.message).toContain(
      `roster operator fence: ClusterRole ${owner.metadata.name} refused: the rules of ${owner.metadata.name} may only cover teams, projects, memberships, invitations and accesskeys (roster.dev)`,
    );
    const aggregated = await refused(() =>
      applyAs(sa, resources.clusterRole, {
        ...owner,
        aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' } }] },
      } as KubeObject),
    );
    expect(aggregated.message).toContain("an aggregationRule would pull other roles' rules into");
    // The live role is what the operator applies, nothing more.
    const live = await admin.get<KubeObject & { rules: unknown[]; aggregationRule?: unknown }>(resources.clusterRole, undefined, owner.metadata.name ?? '');
    expect(live.aggregationRule).toBeUndefined();
    expect(live.rules).toEqual((owner as unknown as { rules: unknown[] }).rules);
    await gainedNothing(mallory, acmeProd);
  });
});

describe('access keys (SPEC §9): their ServiceAccount, token Role and bindings, and nothing wider', () => {
  const keyName = `roster-key-ci${run}`;
  const keyUser = `system:serviceaccount:${acmeNs}:${keyName}`;
  const keyLabels = { [MANAGED_BY]: 'roster', [TEAM_LABEL]: 'acme', [TEAM_NAMESPACE_LABEL]: acmeNs, 'roster.dev/access-key': `ci${run}` };
  const rbac = 'rbac.authorization.k8s.io';
  const tokenRule = { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'], resourceNames: [keyName] };
  const role = (name: string, rules: unknown[]) =>
    ({ apiVersion: `${rbac}/v1`, kind: 'Role', metadata: { name, namespace: acmeNs, labels: keyLabels }, rules }) as unknown as KubeObject;
  const keyBinding = (namespace: string, name: string, roleRef: { kind: string; name: string }, subjects: unknown[]) =>
    ({
      apiVersion: `${rbac}/v1`,
      kind: 'RoleBinding',
      metadata: { name, namespace, labels: keyLabels },
      subjects,
      roleRef: { apiGroup: rbac, ...roleRef },
    }) as unknown as KubeObject;
  const keySubject = { kind: 'ServiceAccount', name: keyName, namespace: acmeNs };

  it('writes a key ServiceAccount, the owner-only token Role and binding, and an edit binding in an assigned namespace', async () => {
    await applyAs(sa, resources.serviceAccount, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: keyName, namespace: acmeNs, labels: keyLabels },
    } as KubeObject);
    await applyAs(sa, resources.role, role(keyName, [tokenRule]));
    await applyAs(sa, resources.roleBinding, keyBinding(acmeNs, keyName, { kind: 'Role', name: keyName }, [{ kind: 'User', name: riley, apiGroup: rbac }]));
    await applyAs(sa, resources.roleBinding, keyBinding(acmeProd, keyName, { kind: 'ClusterRole', name: 'edit' }, [keySubject]));
    await eventually(async () => expect(await canI(keyUser, 'update', 'deployments', acmeProd, 'apps')).toBe(true), 10_000, 100);
    expect(await canI(keyUser, 'update', 'deployments', globexProd, 'apps')).toBe(false);
    for (const [ref, ns] of [
      [resources.roleBinding, acmeProd],
      [resources.roleBinding, acmeNs],
      [resources.role, acmeNs],
      [resources.serviceAccount, acmeNs],
    ] as const)
      expect(await sa.delete(ref, ns, keyName)).toBe(true);
  });

  it('refuses a wider token Role, another Role, a key bound to a team ClusterRole, and a ServiceAccount that is not a key', async () => {
    const noNames = await refused(() => applyAs(sa, resources.role, role(keyName, [{ ...tokenRule, resourceNames: undefined }])));
    expect(noNames.message).toContain(`${fenceMessage('Role', acmeNs, keyName)}an access key's token Role has exactly one rule`);
    const secrets = await refused(() => applyAs(sa, resources.role, role(keyName, [tokenRule, { apiGroups: [''], resources: ['secrets'], verbs: ['get'] }])));
    expect(secrets.message).toContain('exactly one rule');
    const other = await refused(() => applyAs(sa, resources.role, role(`evil-${run}`, [tokenRule])));
    expect(other.message).toContain("the operator writes only access keys' token Roles");
    const teamAdmin = await refused(() =>
      applyAs(sa, resources.roleBinding, keyBinding(acmeNs, keyName, { kind: 'ClusterRole', name: 'roster:team-admin' }, [keySubject])),
    );
    expect(teamAdmin.message).toContain('an access key of the team (ServiceAccount roster-key-* in');
    const foreignRole = await refused(() =>
      applyAs(sa, resources.roleBinding, keyBinding(acmeNs, keyName, { kind: 'Role', name: `evil-${run}` }, [{ kind: 'User', name: mallory, apiGroup: rbac }])),
    );
    expect(foreignRole.message).toContain("the operator binds only an access key's own token Role");
    const account = await refused(() =>
      applyAs(sa, resources.serviceAccount, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: `mallory-${run}`, namespace: acmeNs, labels: keyLabels },
      } as KubeObject),
    );
    expect(account.message).toContain("the operator writes only access keys' ServiceAccounts");
    expect(await canI(keyUser, 'create', 'memberships', acmeNs, 'roster.dev')).toBe(false);
    await gainedNothing(mallory, acmeNs);
  });
});
