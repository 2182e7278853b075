// The CRDs against a real kube-apiserver: they install, the examples apply, kubectl shows
// the printer columns and descriptions, every CEL rule refuses a bad object with its
// message, and status is writable only through the subresource.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { resources } from '../../src/api/resources.ts';
import { loadCrds } from '../../src/api/crds.ts';
import { KubeClient, KubeApiError, type KubeObject } from '../../src/runtime/kube-client.ts';
import { removeNamespaces } from './support/cleanup.ts';
import { kubectl } from './kubectl.ts';

const kubeconfig = inject('kubeconfigPath');
const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
let client: KubeClient;
const ns = 'crd-tests';

const yaml = (s: string) => s;

async function applyExpectingError(manifest: string): Promise<string> {
  const result = await kubectl(kubeconfig, ['apply', '-f', '-'], manifest);
  expect(result.code, `expected apply to fail:\n${manifest}\n${result.stdout}`).not.toBe(0);
  return result.stderr;
}

beforeAll(async () => {
  client = KubeClient.fromFile(kubeconfig);
  await client.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const team = await kubectl(
    kubeconfig,
    ['apply', '-f', '-'],
    yaml(`
apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: base, namespace: ${ns} }
spec: { owner: { email: owner@base.example }, seats: 5 }
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: dev, namespace: ${ns} }
spec: { team: base, email: dev@base.example, role: developer }
---
apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: revoked, namespace: ${ns} }
spec: { team: base, email: gone@base.example, role: observer, revoked: true }
`),
  );
  expect(team.stderr).toBe('');
});

afterAll(async () => {
  // The examples mail real-looking people (riley@acme.com): the next file's operator must not find them.
  await removeNamespaces(client, [ns, 'acme', 'shop-prod', 'shop-staging', 'blog-prod', 'globex', 'globex-web']);
  client.close();
});

describe('CRDs', () => {
  it('are installed and Established, one per kind in crds/', async () => {
    for (const { crd } of loadCrds()) {
      const live = await client.get<KubeObject & { status: { conditions: Array<{ type: string; status: string }> } }>(
        resources.customResourceDefinition,
        undefined,
        crd.metadata.name,
      );
      expect(live.status.conditions).toContainEqual(expect.objectContaining({ type: 'Established', status: 'True' }));
    }
    expect(
      loadCrds()
        .map((c) => c.crd.spec.names.kind)
        .sort(),
    ).toEqual(['AccessKey', 'Invitation', 'Membership', 'Project', 'Team']);
  });

  it('apply every file in examples/', async () => {
    const result = await kubectl(kubeconfig, ['apply', '-R', '-f', examples]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/team\.roster\.dev\/acme (created|unchanged|configured)/);
    expect(result.stdout).toMatch(/invitation\.roster\.dev\/jordan (created|unchanged|configured)/);
    expect(result.stdout).toMatch(/accesskey\.roster\.dev\/ci-deploy (created|unchanged|configured)/);
  });

  it('list all four kinds under `kubectl get roster` with their printer columns', async () => {
    const result = await kubectl(kubeconfig, ['get', 'roster', '-n', 'acme']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/NAME\s+OWNER\s+SEATS\s+MEMBERS\s+READY\s+AGE/);
    expect(result.stdout).toMatch(/team\.roster\.dev\/acme\s+liam@acme\.com/);
    expect(result.stdout).toMatch(/NAME\s+TEAM\s+EMAIL\s+ROLE\s+PHASE\s+DELIVERY\s+AGE/);
    expect(result.stdout).toMatch(/membership\.roster\.dev\/riley\s+acme\s+riley@acme\.com\s+developer/);
    expect(result.stdout).toMatch(/NAME\s+TEAM\s+EMAIL\s+ROLE\s+STATUS\s+DELIVERY\s+EXPIRES\s+AGE/);
    expect(result.stdout).toMatch(/invitation\.roster\.dev\/jordan\s+acme\s+jordan@acme\.com\s+observer/);
    expect(result.stdout).toMatch(/NAME\s+TEAM\s+OWNER\s+ROLE\s+EFFECTIVE\s+PHASE\s+EXPIRES\s+AGE/);
    expect(result.stdout).toMatch(/accesskey\.roster\.dev\/ci-deploy\s+acme\s+developer/);
    expect(result.stdout).toMatch(/NAME\s+TEAM\s+DISPLAY NAME\s+MEMBERS\s+READY\s+AGE/);
    expect(result.stdout).toMatch(/project\.roster\.dev\/shop\s+acme\s+Shop/);
  });

  it('answer to their short names', async () => {
    for (const short of ['tm', 'mbr', 'inv', 'proj', 'key']) {
      const result = await kubectl(kubeconfig, ['get', short, '-n', 'acme', '-o', 'name']);
      expect(result.code, short).toBe(0);
      expect(result.stdout.trim().length, short).toBeGreaterThan(0);
    }
  });

  it('teach the API through kubectl explain', async () => {
    const seats = await kubectl(kubeconfig, ['explain', 'team.spec.seats']);
    expect(seats.code).toBe(0);
    expect(seats.stdout).toContain('seat limit');
    const role = await kubectl(kubeconfig, ['explain', 'membership.spec.role']);
    expect(role.stdout).toContain('developer');
    const projects = await kubectl(kubeconfig, ['explain', 'membership.spec.projects.environments']);
    expect(projects.stdout).toContain('Omitted means all');
  });
});

describe('CEL validation', () => {
  const team = (spec: string) => `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: bad, namespace: ${ns} }
spec: ${spec}
`;
  const membership = (spec: string, name = 'bad') => `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: ${name}, namespace: ${ns} }
spec: ${spec}
`;

  it('rejects a malformed owner email', async () => {
    expect(await applyExpectingError(team('{ owner: { email: not-an-email }, seats: 3 }'))).toContain('owner.email must be an email address');
  });

  it('rejects zero seats', async () => {
    expect(await applyExpectingError(team('{ owner: { email: a@b.example }, seats: 0 }'))).toMatch(/seats/);
  });

  it('rejects a malformed invitation ttl', async () => {
    expect(await applyExpectingError(team('{ owner: { email: a@b.example }, seats: 3, invitations: { ttl: "7 days" } }'))).toContain(
      'invitations.ttl must be a duration',
    );
    expect(await applyExpectingError(team('{ owner: { email: a@b.example }, seats: 3, invitations: { ttl: "10s" } }'))).toContain(
      'invitations.ttl must be a duration',
    );
  });

  it('rejects role owner with a pointer to Team spec.owner', async () => {
    expect(await applyExpectingError(membership('{ team: base, email: x@base.example, role: owner }'))).toContain(
      'a team has exactly one owner, set in Team spec.owner',
    );
  });

  it('rejects an unknown role', async () => {
    expect(await applyExpectingError(membership('{ team: base, email: x@base.example, role: superuser }'))).toContain(
      'role must be one of admin, developer, observer, billing',
    );
  });

  it('rejects projects on team-wide roles', async () => {
    for (const role of ['admin', 'billing']) {
      expect(await applyExpectingError(membership(`{ team: base, email: x@base.example, role: ${role}, projects: [{ name: shop }] }`))).toContain(
        'roles admin and billing are team-wide and take no projects',
      );
    }
  });

  it('rejects a malformed member email', async () => {
    expect(await applyExpectingError(membership('{ team: base, email: "riley at acme", role: developer }'))).toContain('email must be an email address');
  });

  it('keeps spec.team and spec.email immutable', async () => {
    expect(await applyExpectingError(membership('{ team: other, email: dev@base.example, role: developer }', 'dev'))).toContain('spec.team is immutable');
    expect(await applyExpectingError(membership('{ team: base, email: someone@base.example, role: developer }', 'dev'))).toContain('spec.email is immutable');
    // a mutable field still changes
    const ok = await kubectl(kubeconfig, ['apply', '-f', '-'], membership('{ team: base, email: dev@base.example, role: observer }', 'dev'));
    expect(ok.code).toBe(0);
  });

  it('keeps a revoked invitation revoked', async () => {
    const stderr = await applyExpectingError(`apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: revoked, namespace: ${ns} }
spec: { team: base, email: gone@base.example, role: observer, revoked: false }
`);
    expect(stderr).toContain('a revoked invitation stays revoked');
  });

  it('rejects duplicate and malformed environments', async () => {
    const project = (envs: string) => `apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: bad, namespace: ${ns} }
spec: { team: base, environments: ${envs} }
`;
    expect(await applyExpectingError(project('[{ name: prod, namespace: a }, { name: prod, namespace: b }]'))).toMatch(
      /Duplicate value|environment names must be unique/,
    );
    expect(await applyExpectingError(project('[{ name: Prod_1, namespace: a }]'))).toContain('environment name must be a DNS label');
    expect(await applyExpectingError(project('[{ name: prod, namespace: "Not Valid" }]'))).toContain('environment namespace must be a valid namespace name');
    expect(await applyExpectingError(project('[]'))).toMatch(/environments/);
  });
});

describe('status', () => {
  it('is ignored on the main resource and writable through the subresource', async () => {
    const path = `/apis/roster.dev/v1alpha1/namespaces/${ns}/teams/base`;
    const before = await client.get<KubeObject & { status?: unknown }>(resources.team, ns, 'base');
    await client.request('patch', 'PATCH', path, {
      body: { status: { members: 42 } },
      contentType: 'application/merge-patch+json',
    });
    const afterMain = await client.get<KubeObject & { status?: { members?: number } }>(resources.team, ns, 'base');
    expect(afterMain.status?.members).toBeUndefined();
    expect(before.status).toEqual(afterMain.status);

    await client.request('patch', 'PATCH', `${path}/status`, {
      body: { status: { members: 42 } },
      contentType: 'application/merge-patch+json',
    });
    const afterStatus = await client.get<KubeObject & { status?: { members?: number } }>(resources.team, ns, 'base');
    expect(afterStatus.status?.members).toBe(42);
  });

  it('refuses malformed conditions', async () => {
    const error = await client
      .request('patch', 'PATCH', `/apis/roster.dev/v1alpha1/namespaces/${ns}/teams/base/status`, {
        body: { status: { conditions: [{ type: 'Ready', status: 'Maybe', reason: 'x', message: '', lastTransitionTime: 'now' }] } },
        contentType: 'application/merge-patch+json',
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).status).toBe(422);
  });
});
