// The pod the chart describes, as far as a test without a kubelet can take it: which volume
// (and which key of it) a file path in the container lands on, and a stand-in for the
// kubelet that writes the pod's mounted ConfigMaps, Secrets and emptyDirs into a directory
// so the operator process can run against the same files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { resources } from '../../../src/api/resources.ts';
import type { KubeClient, KubeObject } from '../../../src/runtime/kube-client.ts';

export interface KeyToPath {
  key: string;
  path: string;
}

export interface Volume {
  name: string;
  configMap?: { name: string; items?: KeyToPath[] };
  secret?: { secretName: string; items?: KeyToPath[] };
  emptyDir?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name: string; containerPort: number }>;
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  resources?: Record<string, unknown>;
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
}

export interface PodSpec {
  serviceAccountName?: string;
  securityContext?: SecurityContext & { fsGroup?: number };
  containers: Container[];
  volumes?: Volume[];
}

export function podOf(deployment: object): PodSpec {
  return (deployment as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

export interface FileSource {
  kind: 'configMap' | 'secret';
  name: string;
  key: string;
}

/** The ConfigMap or Secret key a path inside the container reads, or undefined if nothing mounted serves it. */
export function fileBehind(pod: PodSpec, container: Container, path: string): FileSource | undefined {
  const mounts = [...(container.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
  for (const mount of mounts) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    if (!volume) continue;
    const source = volume.configMap
      ? { kind: 'configMap' as const, name: volume.configMap.name, items: volume.configMap.items }
      : volume.secret
        ? { kind: 'secret' as const, name: volume.secret.secretName, items: volume.secret.items }
        : undefined;
    if (mount.subPath !== undefined) {
      if (path !== mount.mountPath || !source) continue;
      const key = source.items ? source.items.find((i) => i.path === mount.subPath)?.key : mount.subPath;
      return key ? { kind: source.kind, name: source.name, key } : undefined;
    }
    if (!path.startsWith(`${mount.mountPath}/`)) continue;
    if (!source) return undefined;
    const relative = path.slice(mount.mountPath.length + 1);
    const key = source.items ? source.items.find((i) => i.path === relative)?.key : relative.includes('/') ? undefined : relative;
    return key ? { kind: source.kind, name: source.name, key } : undefined;
  }
  return undefined;
}

interface DataObject extends KubeObject {
  data?: Record<string, string>;
}

/**
 * What the kubelet would do for this container: every mounted ConfigMap, Secret and
 * emptyDir, read from the API server and written under `root`. Returns a function that
 * maps a path in the container to the file on this machine.
 */
export async function materializeMounts(
  client: KubeClient,
  namespace: string,
  pod: PodSpec,
  container: Container,
  root: string,
): Promise<(path: string) => string> {
  const local = (path: string) => join(root, path);
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    if (!volume) throw new Error(`volumeMount ${mount.name} has no volume`);
    if (volume.emptyDir) {
      mkdirSync(local(mount.mountPath), { recursive: true });
      continue;
    }
    let files: Record<string, string>;
    let items: KeyToPath[] | undefined;
    if (volume.configMap) {
      const cm = await client.get<DataObject>(resources.configMap, namespace, volume.configMap.name);
      files = cm.data ?? {};
      items = volume.configMap.items;
    } else if (volume.secret) {
      const secret = await client.get<DataObject>(resources.secret, namespace, volume.secret.secretName);
      files = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      items = volume.secret.items;
    } else {
      throw new Error(`volume ${volume.name}: only configMap, secret and emptyDir are simulated`);
    }
    const entries = items ? items.map((i) => [i.path, files[i.key]] as const) : Object.entries(files);
    for (const [path, content] of entries) {
      if (content === undefined) throw new Error(`volume ${volume.name}: a key it names is missing`);
      if (mount.subPath !== undefined && path !== mount.subPath) continue;
      const target = mount.subPath !== undefined ? local(mount.mountPath) : local(posix.join(mount.mountPath, path));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content, { mode: 0o600 });
    }
  }
  return (path: string) => {
    const mounted = (container.volumeMounts ?? []).some((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
    return mounted ? local(path) : path;
  };
}

/** The container's environment as the kubelet would set it (fieldRefs from the given pod metadata). */
export function environmentOf(container: Container, pod: { name: string; namespace: string }, mapPath: (p: string) => string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.name === 'TMPDIR' ? mapPath(e.value) : e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = pod.name;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = pod.namespace;
    else throw new Error(`env ${e.name}: not simulated`);
  }
  return env;
}

interface TokenRequest extends KubeObject {
  status?: { token: string };
}

/**
 * What the kubelet gives a pod of this ServiceAccount: a token from the TokenRequest API
 * (`serviceaccounts/<name>/token`, asked with `admin`), written into a kubeconfig for the
 * cluster of `adminKubeconfigPath` at `path` (outside a pod there is no in-cluster config).
 */
export async function serviceAccountKubeconfig(
  admin: KubeClient,
  adminKubeconfigPath: string,
  namespace: string,
  serviceAccount: string,
  path: string,
): Promise<string> {
  const request = await admin.request<TokenRequest>('create', 'POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`no token for ServiceAccount ${namespace}/${serviceAccount}`);
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfigPath);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${adminKubeconfigPath} has no current cluster`);
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster.name,
        cluster: {
          server: cluster.server,
          ...(cluster.caData ? { 'certificate-authority-data': cluster.caData } : {}),
          ...(cluster.caFile ? { 'certificate-authority': cluster.caFile } : {}),
          ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
        },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: cluster.name, user, namespace } }],
    'current-context': user,
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, stringify(kubeconfig), { mode: 0o600 });
  return path;
}
