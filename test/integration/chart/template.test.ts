// The chart, rendered: `helm lint` and `helm template` with the default values and with the
// options on (ingress, cert-manager, ServiceMonitor, NetworkPolicy, SMTP with Secrets, mail
// templates, secret mounts), and assertions on the objects: restricted pod security, two
// replicas with leader election, the PDB, RBAC rule by rule, the webhook configurations
// equal to the operator's own rendering, and a config the operator's own validator accepts
// whose every file path lands on a mounted volume.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectRoot } from '../../../controlplane/harness.ts';
import { renderWebhookConfigurations } from '../../../src/admission/registration.ts';
import { teamClusterRoleObjects } from '../../../src/backends/identity/kubernetes.ts';
import { parseConfig, type RosterConfig } from '../../../src/config.ts';
import { chartDirectory, find, helm, renderChart, valuesFile, type K8sObject } from './helm.ts';
import { fileBehind, podOf, type Container, type PodSpec } from './pod.ts';

const ns = 'roster-system';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const rulesOf = (o: K8sObject) => (o as unknown as { rules: Rule[] }).rules;
const configOf = (objects: K8sObject[]): RosterConfig => {
  const data = (find(objects, 'ConfigMap', 'roster-config') as unknown as { data: Record<string, string> }).data;
  return parseConfig(parse(data['config.yaml']!));
};
/** The operator's fence (templates/operator-fence.yaml): a policy and a binding per kind it writes. */
const fenceKinds = ['clusterroles', 'configmaps', 'rolebindings', 'roles', 'secrets', 'serviceaccounts']
  .map((k) => `ValidatingAdmissionPolicy/roster-operator-fence-${k}`)
  .concat(
    ['clusterroles', 'configmaps', 'rolebindings', 'roles', 'secrets', 'serviceaccounts'].map(
      (k) => `ValidatingAdmissionPolicyBinding/roster-operator-fence-${k}`,
    ),
  );
interface FencePolicy {
  spec: { matchConditions: Array<{ expression: string }>; variables: Array<{ name: string; expression: string }> };
}
const fenceVariable = (objects: K8sObject[], kind: string, name: string) =>
  (find(objects, 'ValidatingAdmissionPolicy', `roster-operator-fence-${kind}`) as unknown as FencePolicy).spec.variables.find((v) => v.name === name)!
    .expression;
const fenceRefusal = (objects: K8sObject[], kind: string) => fenceVariable(objects, kind, 'refusal');
const operatorContainer = (objects: K8sObject[]): Container => podOf(find(objects, 'Deployment')).containers.find((c) => c.name === 'operator')!;

/** The options a production install turns on; each renders with the CRDs those need absent here. */
const everythingOn = {
  ingress: { enabled: true, host: 'roster.acme.example', className: 'nginx', tls: [{ secretName: 'roster-tls', hosts: ['roster.acme.example'] }] },
  webhook: { certificates: 'cert-manager' },
  metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
  networkPolicy: {
    enabled: true,
    acceptFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
    egress: [
      {
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 587, protocol: 'TCP' },
        ],
      },
    ],
  },
  mail: {
    backend: 'smtp',
    from: 'Acme <team@acme.example>',
    smtp: { host: 'smtp.acme.example', user: 'roster', passwordSecret: { name: 'roster-smtp', key: 'pw' }, caSecret: { name: 'smtp-ca', key: 'bundle.pem' } },
    templates: {
      subject: 'Join {{teamDisplayName}}',
      text: 'Hello {{invitee}}: {{acceptUrl}}',
      html: '<p>Hello {{invitee}}: <a href="{{acceptUrl}}">accept</a></p>',
    },
  },
  secretMounts: [{ name: 'keycloak', secretName: 'roster-keycloak' }],
};

describe('helm lint', () => {
  it('passes (strict) with the defaults and with every option on', async () => {
    const defaults = await helm(['lint', '--strict', chartDirectory]);
    expect(defaults.stdout + defaults.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(defaults.code).toBe(0);
    const options = await helm(['lint', '--strict', chartDirectory, '-f', valuesFile(everythingOn)]);
    expect(options.stdout + options.stderr).toMatch(/0 chart\(s\) failed/);
    expect(options.code).toBe(0);
  });

  it('fails on values the schema refuses', async () => {
    const result = await helm(['lint', chartDirectory, '--set', 'replicaCount=-1']);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/replicaCount/);
  });
});

describe('values.schema.json', () => {
  it.each([
    ['an unknown top-level key', ['--set', 'replicas=3'], /replicas/],
    ['an unknown nested key', ['--set', 'webhook.caBundle=x'], /caBundle/],
    ['a webhook timeout over 5 s', ['--set', 'webhook.timeoutSeconds=10'], /timeoutSeconds/],
    ['an unknown failure policy', ['--set', 'webhook.failurePolicy=Sometimes'], /failurePolicy/],
    ['an unknown mail backend', ['--set', 'mail.backend=sendmail'], /backend/],
    ['a publicUrl that is not http(s)', ['--set', 'operator.publicUrl=ftp://x'], /publicUrl/],
    [
      'identity backends without "default"',
      ['--set', 'operator.identityBackends.default=null', '--set', 'operator.identityBackends.corp.type=ldap'],
      /default/,
    ],
  ])('refuses %s', async (_what, args, message) => {
    const result = await helm(['template', 'roster', chartDirectory, ...args]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });

  it('asks for the SMTP host when mail goes over SMTP', async () => {
    const result = await helm(['template', 'roster', chartDirectory, '--set', 'mail.backend=smtp']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('mail.smtp.host is required when mail.backend is smtp');
  });
});

describe('helm template with the defaults', async () => {
  const objects = await renderChart();

  it('renders exactly the expected objects, none of the optional ones', () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual([
      'ClusterRole/roster-metrics-reader',
      'ClusterRole/roster-operator',
      'ClusterRole/roster:team-admin',
      'ClusterRole/roster:team-billing',
      'ClusterRole/roster:team-owner',
      'ClusterRoleBinding/roster-operator',
      'ConfigMap/roster-config',
      'Deployment/roster',
      'MutatingWebhookConfiguration/roster',
      'PodDisruptionBudget/roster',
      'Role/roster-operator',
      'RoleBinding/roster-operator',
      'Service/roster',
      'ServiceAccount/roster',
      ...fenceKinds,
      'ValidatingWebhookConfiguration/roster',
    ]);
    for (const o of objects) {
      if (o.kind.startsWith('Cluster') || o.kind.endsWith('WebhookConfiguration') || o.kind.startsWith('ValidatingAdmissionPolicy'))
        expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBeUndefined();
      else expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(ns);
    }
  });

  it('leaves the CRDs out of the templates (they come from crds/), and --include-crds brings all five', async () => {
    expect(objects.filter((o) => o.kind === 'CustomResourceDefinition')).toHaveLength(0);
    const withCrds = await renderChart({}, { includeCrds: true });
    expect(
      withCrds
        .filter((o) => o.kind === 'CustomResourceDefinition')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['accesskeys.roster.dev', 'invitations.roster.dev', 'memberships.roster.dev', 'projects.roster.dev', 'teams.roster.dev']);
  });

  it('runs two replicas that elect a leader, named by the pod name from the downward API', () => {
    const deployment = find(objects, 'Deployment') as unknown as { spec: { replicas: number; strategy: { rollingUpdate: { maxUnavailable: number } } } };
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    const env = operatorContainer(objects).env ?? [];
    expect(env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    const config = configOf(objects);
    expect(config.leaderElection).toMatchObject({ enabled: true, leaseName: 'roster-operator' });
    expect(config.identity).toBeUndefined(); // so the operator takes POD_NAME
    expect(config.namespace).toBe(ns);
  });

  it('passes the memory knobs: nodeOptions as NODE_OPTIONS (young generation capped by default), heapGrowingPercent, the glibc malloc settings (none when emptied)', async () => {
    expect(operatorContainer(objects).env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-semi-space-size=8' });
    expect(operatorContainer(objects).env).toContainEqual({ name: 'ROSTER_HEAP_GROWING_PERCENT', value: '30' });
    expect(operatorContainer(objects).env).toContainEqual({ name: 'MALLOC_ARENA_MAX', value: '2' });
    expect(operatorContainer(objects).env).toContainEqual({ name: 'MALLOC_MMAP_THRESHOLD_', value: '131072' });
    expect(operatorContainer(objects).env).toContainEqual({ name: 'MALLOC_TRIM_THRESHOLD_', value: '131072' });
    const custom = await renderChart({ nodeOptions: '--max-semi-space-size=4 --max-old-space-size=384' });
    expect(operatorContainer(custom).env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-semi-space-size=4 --max-old-space-size=384' });
    const none = await renderChart({ nodeOptions: '', mallocArenaMax: 0, mallocThresholdBytes: 0 });
    for (const name of ['NODE_OPTIONS', 'MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_']) {
      expect((operatorContainer(none).env ?? []).map((e) => e.name)).not.toContain(name);
    }
  });

  it('has a restricted pod security context, a read-only root filesystem and a /tmp emptyDir', () => {
    const pod = podOf(find(objects, 'Deployment'));
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    const container = operatorContainer(objects);
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(restrictedViolations(pod)).toEqual([]);
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    expect(container.resources).toMatchObject({ requests: { cpu: expect.any(String), memory: expect.any(String) }, limits: { memory: expect.any(String) } });
  });

  it('runs the image with --config pointing at the mounted ConfigMap, with probes on the probes port', () => {
    const container = operatorContainer(objects);
    expect(container.command).toBeUndefined(); // the image's ENTRYPOINT: node src/main.ts
    expect(container.args).toEqual(['--config', '/etc/roster/config.yaml']);
    const pod = podOf(find(objects, 'Deployment'));
    const file = fileBehind(pod, container, '/etc/roster/config.yaml');
    expect(file).toEqual({ kind: 'configMap', name: 'roster-config', key: 'config.yaml' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'probes' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'probes' });
    const config = configOf(objects);
    const ports = Object.fromEntries((container.ports ?? []).map((p) => [p.name, p.containerPort]));
    expect(ports).toEqual({
      probes: config.server.probesPort,
      accept: config.server.acceptPort,
      webhook: config.server.webhookPort,
      metrics: config.server.metrics.port,
    });
  });

  it('serves /metrics over HTTPS behind TokenReview + SubjectAccessReview, with a reader ClusterRole to bind', async () => {
    const config = configOf(objects);
    expect(config.server.metrics).toEqual({ secure: true, port: 8443 }); // no certDir: self-signed
    const service = find(objects, 'Service') as unknown as { spec: { ports: Array<{ name: string; targetPort: string }> } };
    expect(service.spec.ports.find((p) => p.name === 'metrics')?.targetPort).toBe('metrics');
    expect(rulesOf(find(objects, 'ClusterRole', 'roster-operator'))).toEqual(
      expect.arrayContaining([
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      ]),
    );
    expect((find(objects, 'ClusterRole', 'roster-metrics-reader') as unknown as { rules: unknown[] }).rules).toEqual([
      { nonResourceURLs: ['/metrics'], verbs: ['get'] },
    ]);

    // Plain: /metrics back on the probes port, no review rights, no metrics container port.
    const plain = await renderChart({ metrics: { secure: false } });
    expect(configOf(plain).server.metrics.secure).toBe(false);
    expect(
      (find(plain, 'Service') as unknown as { spec: { ports: Array<{ name: string; targetPort: string }> } }).spec.ports.find((p) => p.name === 'metrics')
        ?.targetPort,
    ).toBe('probes');
    expect(JSON.stringify(rulesOf(find(plain, 'ClusterRole', 'roster-operator')))).not.toMatch(/tokenreviews|subjectaccessreviews/);
    expect((operatorContainer(plain).ports ?? []).map((p) => p.name)).not.toContain('metrics');

    // A mounted certificate: its directory in the config, the Secret's two keys behind it.
    const mounted = await renderChart({ metrics: { certSecret: 'roster-metrics-tls', serviceMonitor: { enabled: true } } });
    const certDir = configOf(mounted).server.metrics.certDir!;
    const pod = podOf(find(mounted, 'Deployment'));
    for (const key of ['tls.crt', 'tls.key'])
      expect(fileBehind(pod, operatorContainer(mounted), `${certDir}/${key}`)).toEqual({ kind: 'secret', name: 'roster-metrics-tls', key });
    const endpoint = (find(mounted, 'ServiceMonitor') as unknown as { spec: { endpoints: Array<Record<string, unknown>> } }).spec.endpoints[0]!;
    expect(endpoint).toMatchObject({
      scheme: 'https',
      bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      tlsConfig: { serverName: 'roster.roster-system.svc', ca: { secret: { name: 'roster-metrics-tls', key: 'ca.crt' } } },
    });
  });

  it('has a Service whose ports all reach named container ports', () => {
    const service = find(objects, 'Service') as unknown as {
      spec: { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: string }> };
    };
    expect(service.spec.ports.map((p) => p.name)).toEqual(['accept', 'webhook', 'metrics']);
    const containerPorts = (operatorContainer(objects).ports ?? []).map((p) => p.name);
    for (const p of service.spec.ports) expect(containerPorts).toContain(p.targetPort);
    const podLabels = (find(objects, 'Deployment') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template
      .metadata.labels;
    expect(podLabels).toMatchObject(service.spec.selector);
  });

  it('keeps one replica through voluntary disruptions', () => {
    const pdb = find(objects, 'PodDisruptionBudget') as unknown as { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
    expect(pdb.spec.minAvailable).toBe(1);
    const podLabels = (find(objects, 'Deployment') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template
      .metadata.labels;
    expect(podLabels).toMatchObject(pdb.spec.selector.matchLabels);
  });

  it('grants cluster-wide exactly the verbs the operator uses, and nothing on Secrets', () => {
    const rules = rulesOf(find(objects, 'ClusterRole', 'roster-operator'));
    expect(rules).toEqual([
      { apiGroups: ['roster.dev'], resources: ['teams'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: ['roster.dev'], resources: ['projects'], verbs: ['list', 'watch'] },
      { apiGroups: ['roster.dev'], resources: ['memberships'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
      { apiGroups: ['roster.dev'], resources: ['invitations'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
      { apiGroups: ['roster.dev'], resources: ['accesskeys'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: ['roster.dev'], resources: ['teams/status', 'projects/status', 'memberships/status', 'accesskeys/status'], verbs: ['patch'] },
      { apiGroups: ['roster.dev'], resources: ['invitations/status'], verbs: ['update', 'patch'] },
      { apiGroups: ['roster.dev'], resources: ['teams/finalizers', 'memberships/finalizers', 'accesskeys/finalizers'], verbs: ['update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: ['list', 'watch', 'create', 'patch', 'delete'] },
      {
        apiGroups: ['rbac.authorization.k8s.io'],
        resources: ['clusterroles'],
        verbs: ['bind'],
        resourceNames: ['admin', 'edit', 'view', 'roster:team-owner', 'roster:team-admin', 'roster:team-billing'],
      },
      {
        apiGroups: ['rbac.authorization.k8s.io'],
        resources: ['clusterroles'],
        verbs: ['get', 'patch', 'escalate'],
        resourceNames: ['roster:team-owner', 'roster:team-admin', 'roster:team-billing'],
      },
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['list', 'watch', 'create', 'patch', 'delete'] },
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['list', 'watch', 'create', 'patch', 'delete', 'escalate', 'bind'] },
      { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
        verbs: ['get', 'update'],
        resourceNames: ['roster'],
      },
    ]);
    for (const rule of rules) {
      expect(rule.verbs).not.toContain('*');
      expect(rule.resources).not.toContain('*');
      expect(rule.apiGroups).not.toContain('*');
    }
    const binding = find(objects, 'ClusterRoleBinding') as unknown as { roleRef: { name: string }; subjects: unknown[] };
    expect(binding.roleRef.name).toBe('roster-operator');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'roster', namespace: ns }]);
  });

  it('grants in its own namespace only its Lease and its webhook Secret by name (create cannot be named)', () => {
    const role = find(objects, 'Role');
    expect(rulesOf(role)).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'update'], resourceNames: ['roster-operator'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'update'], resourceNames: ['roster-webhook-tls'] },
    ]);
    expect(configOf(objects).webhook.tls.secretName).toBe('roster-webhook-tls');
  });

  it('binds only the ClusterRoles the config names: a changed roleBindings value changes the bind rule', async () => {
    const custom = await renderChart({ operator: { roleBindings: { admin: 'acme-admin', developer: 'acme-dev', observer: 'view' } } });
    const bind = rulesOf(find(custom, 'ClusterRole', 'roster-operator')).find((r) => r.verbs.includes('bind'));
    expect(bind?.resourceNames).toEqual(['acme-admin', 'acme-dev', 'view', 'roster:team-owner', 'roster:team-admin', 'roster:team-billing']);
    expect(configOf(custom).roleBindings).toEqual({ admin: 'acme-admin', developer: 'acme-dev', observer: 'view' });
  });

  it("fences the operator's ServiceAccount with the same roles, label and namespace as its config", async () => {
    const config = configOf(objects);
    expect(config.tenancy.namespaceLabel).toBe('roster.dev/team');
    for (const kind of ['rolebindings', 'configmaps', 'secrets', 'clusterroles']) {
      const policy = find(objects, 'ValidatingAdmissionPolicy', `roster-operator-fence-${kind}`) as unknown as FencePolicy;
      expect(policy.spec.matchConditions).toEqual([
        { name: 'operator-service-account', expression: `request.userInfo.username == "system:serviceaccount:${ns}:roster"` },
      ]);
    }
    const rolebindings = fenceRefusal(objects, 'rolebindings');
    expect(rolebindings).toContain('["admin","edit","view","roster:team-owner","roster:team-admin","roster:team-billing"]');
    expect(fenceVariable(objects, 'rolebindings', 'assignedTo')).toContain('namespaceObject.metadata.labels["roster.dev/team"]');
    expect(rolebindings).toContain("kubectl label namespace ' + request.namespace + ' ' + \"roster.dev/team\"");
    expect(fenceVariable(objects, 'rolebindings', 'reservedNamespace')).toBe(`request.namespace in ["kube-system","kube-public","kube-node-lease","${ns}"]`);
    expect(fenceRefusal(objects, 'secrets')).toContain(`request.name != "${config.webhook.tls.secretName}"`);

    // The fence follows the configuration, extraConfig included.
    const custom = await renderChart({
      operator: {
        roleBindings: { admin: 'acme-admin', developer: 'acme-dev', observer: 'view' },
        extraConfig: { tenancy: { namespaceLabel: 'platform.example/owner' } },
      },
    });
    expect(configOf(custom).tenancy.namespaceLabel).toBe('platform.example/owner');
    expect(fenceRefusal(custom, 'rolebindings')).toContain('["acme-admin","acme-dev","view","roster:team-owner","roster:team-admin","roster:team-billing"]');
    expect(fenceVariable(custom, 'rolebindings', 'assignedTo')).toContain('namespaceObject.metadata.labels["platform.example/owner"]');
    expect(fenceVariable(custom, 'rolebindings', 'assignedTo')).not.toContain('roster.dev/team"');
    const viaValue = await renderChart({ tenancy: { namespaceLabel: 'tenants.example/team' } });
    expect(configOf(viaValue).tenancy.namespaceLabel).toBe('tenants.example/team');
    expect(fenceVariable(viaValue, 'rolebindings', 'assignedTo')).toContain('namespaceObject.metadata.labels["tenants.example/team"]');
  });

  it('leaves the fence out with fence.enabled=false (and keeps it with rbac.create=false)', async () => {
    const off = await renderChart({ fence: { enabled: false } });
    expect(off.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'))).toEqual([]);
    const ownRbac = await renderChart({ rbac: { create: false } });
    expect(
      ownRbac
        .filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'))
        .map((o) => `${o.kind}/${o.metadata.name}`)
        .sort(),
    ).toEqual(fenceKinds);
  });

  it('passes the tenancy and mail safety settings through to the config', async () => {
    expect(configOf(objects).mail).toMatchObject({ allowedSenderDomains: [], resendCooldownSeconds: 60, dailyQuotaPerTeam: 200 });
    const custom = await renderChart({
      mail: {
        backend: 'smtp',
        allowedSenderDomains: ['acme.example'],
        resendCooldownSeconds: 300,
        dailyQuotaPerTeam: 0,
        smtp: { host: 'smtp.acme.example', requireTLS: false, allowInsecure: true },
      },
    });
    const config = configOf(custom);
    expect(config.mail).toMatchObject({ allowedSenderDomains: ['acme.example'], resendCooldownSeconds: 300, dailyQuotaPerTeam: 0 });
    expect(config.mail.smtp).toMatchObject({ host: 'smtp.acme.example', requireTLS: false, allowInsecure: true });
    // Secure by default: SMTP on the default port requires STARTTLS.
    const defaults = configOf(await renderChart({ mail: { backend: 'smtp', smtp: { host: 'smtp.acme.example' } } }));
    expect(defaults.mail.smtp).toMatchObject({ port: 587, secure: false, requireTLS: true, allowInsecure: false });
  });

  it('renders the roster:team-* ClusterRoles exactly as the operator applies them', () => {
    for (const expected of teamClusterRoleObjects() as unknown as K8sObject[]) {
      const rendered = find(objects, 'ClusterRole', expected.metadata.name);
      expect(rulesOf(rendered)).toEqual(rulesOf(expected));
      expect(rendered.metadata.labels).toEqual(expected.metadata.labels);
    }
  });

  it('registers the webhooks exactly as the operator renders them, pointed at the Service, failing closed', () => {
    const config = configOf(objects);
    const expected = renderWebhookConfigurations({
      name: config.webhook.configurationName,
      target: { service: { name: 'roster', namespace: ns, port: 443 } },
      failurePolicy: 'Fail',
      timeoutSeconds: 5,
      operatorUsername: `system:serviceaccount:${ns}:roster`,
    });
    const validating = find(objects, 'ValidatingWebhookConfiguration');
    const mutating = find(objects, 'MutatingWebhookConfiguration');
    expect(validating.metadata.name).toBe(config.webhook.configurationName);
    expect(validating.webhooks).toEqual(expected.validating.webhooks);
    expect(mutating.webhooks).toEqual(expected.mutating.webhooks);
    expect(validating.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBeUndefined();
    // The operator manages the certificates; its serving certificate must name the Service.
    expect(config.webhook).toMatchObject({ enabled: true, certificates: 'operator', failurePolicy: 'Fail', register: { enabled: false } });
    expect(config.webhook.tls.dnsNames).toContain(`roster.${ns}.svc`);
    expect(config.webhook.operatorUsername).toBe(`system:serviceaccount:${ns}:roster`);
  });

  it('mails through the log backend by default and serves links on localhost (port-forward)', () => {
    const config = configOf(objects);
    expect(config.mail.backend).toBe('log');
    expect(config.publicUrl).toBe('http://localhost:8081');
    expect(config.mail.templates).toEqual({});
  });
});

describe('helm template with every option on', async () => {
  const objects = await renderChart(everythingOn);
  const pod = podOf(find(objects, 'Deployment'));
  const container = operatorContainer(objects);
  const config = configOf(objects);

  it('exposes only /invite through the Ingress, and links use its host', () => {
    const ingress = find(objects, 'Ingress') as unknown as {
      spec: {
        ingressClassName: string;
        tls: unknown[];
        rules: Array<{
          host: string;
          http: { paths: Array<{ path: string; pathType: string; backend: { service: { name: string; port: { name: string } } } }> };
        }>;
      };
    };
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.spec.tls).toEqual([{ secretName: 'roster-tls', hosts: ['roster.acme.example'] }]);
    expect(ingress.spec.rules).toEqual([
      {
        host: 'roster.acme.example',
        http: { paths: [{ path: '/invite', pathType: 'Prefix', backend: { service: { name: 'roster', port: { name: 'accept' } } } }] },
      },
    ]);
    expect(config.publicUrl).toBe('https://roster.acme.example');
  });

  it('takes the webhook certificate from cert-manager: Certificate, self-signed Issuer, CA injection, mounted Secret', () => {
    const certificate = find(objects, 'Certificate') as unknown as {
      metadata: { name: string };
      spec: { secretName: string; dnsNames: string[]; issuerRef: { name: string; kind: string } };
    };
    const issuer = find(objects, 'Issuer') as unknown as { metadata: { name: string }; spec: Record<string, unknown> };
    expect(issuer.spec).toEqual({ selfSigned: {} });
    expect(certificate.spec.issuerRef).toMatchObject({ name: issuer.metadata.name, kind: 'Issuer' });
    expect(certificate.spec.dnsNames).toEqual([`roster.${ns}.svc`, `roster.${ns}.svc.cluster.local`]);
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      expect(find(objects, kind).metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': `${ns}/${certificate.metadata.name}` });
    }
    expect(config.webhook.certificates).toBe('cert-manager');
    expect(fileBehind(pod, container, `${config.webhook.certDir}/tls.crt`)).toEqual({ kind: 'secret', name: certificate.spec.secretName, key: 'tls.crt' });
    expect(fileBehind(pod, container, `${config.webhook.certDir}/tls.key`)).toEqual({ kind: 'secret', name: certificate.spec.secretName, key: 'tls.key' });
  });

  it('drops the RBAC the operator-managed certificates needed', () => {
    const clusterRules = rulesOf(find(objects, 'ClusterRole', 'roster-operator'));
    expect(clusterRules.some((r) => r.apiGroups.includes('admissionregistration.k8s.io'))).toBe(false);
    expect(rulesOf(find(objects, 'Role')).some((r) => r.resources.includes('secrets'))).toBe(false);
  });

  it('uses a given issuer instead of making one', async () => {
    const custom = await renderChart({
      webhook: { certificates: 'cert-manager', certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } } },
    });
    expect(custom.some((o) => o.kind === 'Issuer')).toBe(false);
    expect((find(custom, 'Certificate') as unknown as { spec: { issuerRef: unknown } }).spec.issuerRef).toEqual({
      name: 'corp-ca',
      kind: 'ClusterIssuer',
      group: 'cert-manager.io',
    });
  });

  it('scrapes /metrics through a ServiceMonitor that selects the Service', () => {
    const monitor = find(objects, 'ServiceMonitor') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string }> };
    };
    const service = find(objects, 'Service') as unknown as { metadata: { labels: Record<string, string> }; spec: { ports: Array<{ name: string }> } };
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.endpoints).toMatchObject([{ port: 'metrics', path: '/metrics', scheme: 'https', tlsConfig: { insecureSkipVerify: true } }]);
    expect(service.spec.ports.map((p) => p.name)).toContain('metrics');
    expect(monitor.metadata.labels.release).toBe('prometheus');
  });

  it('limits ingress with a NetworkPolicy on the named ports, and egress to DNS plus the given rules', () => {
    const policy = find(objects, 'NetworkPolicy') as unknown as {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: Array<{ ports: Array<{ port: string }>; from?: unknown[] }>;
        egress: Array<{ ports: Array<{ port: number; protocol: string }> }>;
      };
    };
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress.map((r) => r.ports.map((p) => p.port))).toEqual([['webhook'], ['accept'], ['probes', 'metrics']]);
    expect(policy.spec.ingress[1]!.from).toEqual(everythingOn.networkPolicy.acceptFrom);
    expect(policy.spec.ingress[0]!.from).toBeUndefined(); // the API server may come from anywhere
    const names = (container.ports ?? []).map((p) => p.name);
    for (const rule of policy.spec.ingress) expect(names).toContain(rule.ports[0]!.port);
    expect(policy.spec.egress[0]!.ports).toEqual([
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ]);
    expect(policy.spec.egress[1]).toEqual(everythingOn.networkPolicy.egress[0]);
    const podLabels = (find(objects, 'Deployment') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template
      .metadata.labels;
    expect(podLabels).toMatchObject(policy.spec.podSelector.matchLabels);
  });

  it('reads the SMTP password and CA from the existing Secrets, mounted as files', () => {
    expect(config.mail.backend).toBe('smtp');
    expect(config.mail.smtp).toMatchObject({ host: 'smtp.acme.example', port: 587, user: 'roster' });
    expect(fileBehind(pod, container, config.mail.smtp!.passwordFile!)).toEqual({ kind: 'secret', name: 'roster-smtp', key: 'pw' });
    expect(fileBehind(pod, container, config.mail.smtp!.caFile!)).toEqual({ kind: 'secret', name: 'smtp-ca', key: 'bundle.pem' });
    expect(JSON.stringify(objects)).not.toMatch(/password:/i);
  });

  it('renders the mail templates into a ConfigMap mounted where mail.templates.*File point', () => {
    const templates = find(objects, 'ConfigMap', 'roster-mail-templates') as unknown as { data: Record<string, string> };
    const sources = {
      subjectFile: everythingOn.mail.templates.subject,
      textFile: everythingOn.mail.templates.text,
      htmlFile: everythingOn.mail.templates.html,
    };
    for (const [field, source] of Object.entries(sources)) {
      const path = config.mail.templates[field as keyof typeof config.mail.templates];
      expect(path, field).toBeDefined();
      const file = fileBehind(pod, container, path!);
      expect(file?.kind).toBe('configMap');
      expect(file?.name).toBe('roster-mail-templates');
      expect(templates.data[file!.key]).toBe(source); // {{placeholders}} pass through Helm untouched
    }
  });

  it('mounts identity-backend Secrets under /etc/roster/secrets/<name>/', () => {
    expect(fileBehind(pod, container, '/etc/roster/secrets/keycloak/client-secret')).toEqual({ kind: 'secret', name: 'roster-keycloak', key: 'client-secret' });
  });

  it('keeps the pod restricted with everything on', () => {
    expect(restrictedViolations(pod)).toEqual([]);
    for (const mount of container.volumeMounts ?? []) if (mount.mountPath !== '/tmp') expect(mount.readOnly, mount.mountPath).toBe(true);
  });

  it('rolls the pods when the configuration changes', async () => {
    const annotation = (objs: K8sObject[]) =>
      (find(objs, 'Deployment') as unknown as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations[
        'checksum/config'
      ];
    const other = await renderChart({ ...everythingOn, operator: { logLevel: 'debug' } });
    expect(annotation(objects)).toMatch(/^[a-f0-9]{64}$/);
    expect(annotation(other)).not.toBe(annotation(objects));
  });
});

describe('the image and the chart agree', () => {
  it('the Deployment runs the Dockerfile CMD with the user the image declares', async () => {
    const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
    const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)![1]!) as string[];
    const cmd = JSON.parse(/^CMD\s+(\[.*\])\s*$/m.exec(dockerfile)![1]!) as string[];
    const objects = await renderChart();
    expect([...entrypoint, ...(operatorContainer(objects).args ?? [])]).toEqual([...entrypoint, ...cmd]);
    const user = /^USER\s+(\d+)(?::(\d+))?\s*$/m.exec(dockerfile);
    expect(Number(user?.[1])).toBe(podOf(find(objects, 'Deployment')).securityContext?.runAsUser);
  });
});

/** The checks of the "restricted" Pod Security Standard that a pod spec alone decides. */
function restrictedViolations(pod: PodSpec): string[] {
  const problems: string[] = [];
  const p = pod as PodSpec & { hostNetwork?: boolean; hostPID?: boolean; hostIPC?: boolean };
  if (p.hostNetwork || p.hostPID || p.hostIPC) problems.push('host namespaces');
  for (const v of pod.volumes ?? []) {
    const allowed = ['configMap', 'secret', 'emptyDir', 'projected', 'downwardAPI', 'persistentVolumeClaim', 'csi', 'ephemeral'];
    if (
      !Object.keys(v)
        .filter((k) => k !== 'name')
        .every((k) => allowed.includes(k))
    )
      problems.push(`volume ${v.name} type`);
  }
  for (const c of pod.containers) {
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${c.name}: allowPrivilegeEscalation`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${c.name}: capabilities.drop ALL`);
    if ((sc.capabilities?.add ?? []).some((cap) => cap !== 'NET_BIND_SERVICE')) problems.push(`${c.name}: capabilities.add`);
    if (sc.runAsNonRoot !== true && pod.securityContext?.runAsNonRoot !== true) problems.push(`${c.name}: runAsNonRoot`);
    const seccomp = sc.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${c.name}: seccompProfile`);
    if (sc.privileged) problems.push(`${c.name}: privileged`);
    if ((sc.runAsUser ?? pod.securityContext?.runAsUser) === 0) problems.push(`${c.name}: runAsUser 0`);
    for (const port of c.ports ?? []) if ((port as { hostPort?: number }).hostPort) problems.push(`${c.name}: hostPort`);
  }
  return problems;
}
