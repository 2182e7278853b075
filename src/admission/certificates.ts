// The webhook's TLS certificates. By default the operator manages them: a CA and a serving
// certificate kept in a Secret of its namespace (shared by every replica), the CA bundle
// injected as caBundle, both renewed when a third of their life is left and picked up by
// every replica without a restart. Rotating the CA happens in two steps so the API server
// never meets a certificate it does not trust yet: the new CA first joins the bundle, and
// only after that has had time to reach the webhook configurations does a serving
// certificate signed by it go out. With cert-manager, the files in certDir are the truth.
import { createPrivateKey, generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { resources } from '../api/resources.ts';
import { isAlreadyExists, isConflict, type KubeClient, type KubeObject } from '../runtime/kube-client.ts';
import type { Logger } from '../runtime/logger.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

/** What the HTTPS server needs, and what the API server must trust. PEM throughout. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** CA certificates the API server should trust (caBundle); empty when someone else injects it. */
  caBundle: string;
}

export interface SubjectAltNames {
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}

export interface KeyPairPem {
  cert: string;
  key: string;
}

/** What the Secret holds. */
export interface CertificateState {
  /** PEM bundle, newest CA first; older CAs stay until they expire. */
  caBundle: string;
  /** The newest CA's key: it signs serving certificates. */
  caKey: string;
  /** When the newest CA joined the bundle (RFC 3339). */
  caIntroducedAt: string;
  cert: string;
  key: string;
}

export interface RotationPolicy {
  caValidityMs: number;
  servingValidityMs: number;
  /** Renew when less than this fraction of a certificate's life is left (cert-manager's 1/3). */
  renewBeforeFraction: number;
  /** How long a new CA sits in the bundle before serving certificates use it. */
  caPropagationMs: number;
}

export const defaultRotationPolicy: RotationPolicy = {
  caValidityMs: 3 * 365 * 24 * 3600_000,
  servingValidityMs: 90 * 24 * 3600_000,
  renewBeforeFraction: 1 / 3,
  caPropagationMs: 60_000,
};

const CLOCK_SKEW_MS = 5 * 60_000;

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // positive
  return bytes.toString('hex');
}

async function newKeyPair(): Promise<{ privatePem: string; publicPem: string }> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export async function generateCa(commonName: string, now: Date, validityMs: number): Promise<KeyPairPem> {
  const keys = await newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(now.getTime() + validityMs);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'roster.dev' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privatePem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.privatePem };
}

export async function issueServingCertificate(ca: KeyPairPem, sans: SubjectAltNames, now: Date, validityMs: number): Promise<KeyPairPem> {
  const keys = await newKeyPair();
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  // Never outlive the CA that signs it.
  cert.validity.notAfter = new Date(Math.min(now.getTime() + validityMs, caCert.validity.notAfter.getTime()));
  cert.setSubject([{ name: 'commonName', value: sans.dnsNames[0] ?? sans.ipAddresses[0] ?? 'roster-webhook' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...sans.dnsNames.map((value) => ({ type: 2, value })), ...sans.ipAddresses.map((ip) => ({ type: 7, ip }))] },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.privatePem };
}

/** The PEM blocks of a bundle. */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

function parse(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

/** The SANs of a certificate, as `DNS:…`/`IP Address:…` become two lists. */
export function subjectAltNamesOf(cert: X509Certificate): SubjectAltNames {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) dnsNames.push(part.slice(4));
    else if (part.startsWith('IP Address:')) ipAddresses.push(part.slice(11));
  }
  return { dnsNames, ipAddresses };
}

function remainingFraction(cert: X509Certificate, now: Date): number {
  // Our certificates start CLOCK_SKEW_MS early; the life that counts starts at issuance, or
  // a short-lived certificate would be due for renewal the moment it is issued.
  const from = Date.parse(cert.validFrom) + CLOCK_SKEW_MS;
  const to = Date.parse(cert.validTo);
  return (to - now.getTime()) / Math.max(1, to - from);
}

/** What is due in the Secret's state, and why (empty = nothing). */
export function rotationDue(
  state: CertificateState | undefined,
  sans: SubjectAltNames,
  now: Date,
  policy: RotationPolicy,
): { ca: boolean; serving: boolean; reasons: string[] } {
  if (!state) return { ca: true, serving: true, reasons: ['no certificates yet'] };
  const reasons: string[] = [];
  const newestCa = parse(splitPemBundle(state.caBundle)[0] ?? '');
  let ca = false;
  if (!newestCa || !newestCa.ca) {
    ca = true;
    reasons.push('the CA is missing or unreadable');
  } else if (remainingFraction(newestCa, now) < policy.renewBeforeFraction) {
    ca = true;
    reasons.push(`the CA expires ${newestCa.validTo}`);
  } else {
    try {
      if (!newestCa.checkPrivateKey(createPrivateKey(state.caKey))) {
        ca = true;
        reasons.push('the CA key does not match the CA');
      }
    } catch {
      ca = true;
      reasons.push('the CA key is unreadable');
    }
  }
  const serving = parse(state.cert);
  let servingDue = false;
  if (!serving) {
    servingDue = true;
    reasons.push('the serving certificate is missing or unreadable');
  } else {
    const have = subjectAltNamesOf(serving);
    const missing = [...sans.dnsNames.filter((d) => !have.dnsNames.includes(d)), ...sans.ipAddresses.filter((ip) => !have.ipAddresses.includes(ip))];
    if (remainingFraction(serving, now) < policy.renewBeforeFraction) {
      servingDue = true;
      reasons.push(`the serving certificate expires ${serving.validTo}`);
    } else if (missing.length) {
      servingDue = true;
      reasons.push(`the serving certificate lacks ${missing.join(', ')}`);
    } else if (!keyMatches(serving, state.key)) {
      servingDue = true;
      reasons.push('the serving key does not match its certificate');
    } else if (newestCa && !ca && !serving.verify(newestCa.publicKey)) {
      // Switch to the newest CA once it has been in the bundle long enough to be trusted.
      const introduced = Date.parse(state.caIntroducedAt);
      if (!Number.isFinite(introduced) || now.getTime() - introduced >= policy.caPropagationMs) {
        servingDue = true;
        reasons.push('the serving certificate is not signed by the newest CA');
      }
    }
  }
  return { ca, serving: servingDue, reasons };
}

function keyMatches(cert: X509Certificate, keyPem: string): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/**
 * The next state: a new CA joins the bundle when due (the serving certificate keeps its old
 * signer until the new CA has propagated, unless it has to change anyway), a serving
 * certificate is issued when due, expired CAs leave the bundle. Returns the same object when
 * nothing is due.
 */
export async function rotate(
  state: CertificateState | undefined,
  sans: SubjectAltNames,
  now: Date,
  policy: RotationPolicy = defaultRotationPolicy,
): Promise<{ state: CertificateState; reasons: string[] }> {
  const due = rotationDue(state, sans, now, policy);
  if (state && !due.ca && !due.serving) {
    const pruned = pruneBundle(state.caBundle, now);
    return pruned === state.caBundle ? { state, reasons: [] } : { state: { ...state, caBundle: pruned }, reasons: ['expired CAs left the bundle'] };
  }
  let next: CertificateState = state ?? { caBundle: '', caKey: '', caIntroducedAt: now.toISOString(), cert: '', key: '' };
  if (due.ca) {
    const ca = await generateCa('roster-webhook-ca', now, policy.caValidityMs);
    next = { ...next, caBundle: pruneBundle(ca.cert + next.caBundle, now), caKey: ca.key, caIntroducedAt: now.toISOString() };
  }
  // A serving certificate no CA of the bundle vouches for must change now, propagation or not.
  if (due.serving || !trustedBy(next.cert, next.caBundle)) {
    const newest = splitPemBundle(next.caBundle)[0] ?? '';
    const serving = await issueServingCertificate({ cert: newest, key: next.caKey }, sans, now, policy.servingValidityMs);
    next = { ...next, cert: serving.cert, key: serving.key };
  }
  return { state: next, reasons: due.reasons };
}

function trustedBy(certPem: string, bundle: string): boolean {
  const cert = parse(certPem);
  return (
    cert !== undefined &&
    splitPemBundle(bundle).some((pem) => {
      const ca = parse(pem);
      return ca !== undefined && cert.checkIssued(ca) && cert.verify(ca.publicKey);
    })
  );
}

function pruneBundle(bundle: string, now: Date): string {
  return splitPemBundle(bundle)
    .filter((pem) => {
      const cert = parse(pem);
      return cert !== undefined && Date.parse(cert.validTo) > now.getTime();
    })
    .join('');
}

// ---- Where the certificates live ----------------------------------------------------------

export interface CertificateSource {
  /** Reads (and, when managing them, renews) the certificates. */
  ensure(): Promise<TlsMaterial>;
  /** Re-checks every interval; calls onChange when the material changed. */
  start(onChange: (material: TlsMaterial) => Promise<void> | void): void;
  stop(): void;
}

interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

const INTRODUCED_ANNOTATION = 'roster.dev/ca-introduced-at';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

export function stateFromSecret(secret: SecretObject | undefined): CertificateState | undefined {
  if (!secret?.data) return undefined;
  return {
    caBundle: unb64(secret.data['ca.crt']),
    caKey: unb64(secret.data['ca.key']),
    caIntroducedAt: secret.metadata.annotations?.[INTRODUCED_ANNOTATION] ?? '',
    cert: unb64(secret.data['tls.crt']),
    key: unb64(secret.data['tls.key']),
  };
}

export interface OperatorCertificatesOptions {
  client: Pick<KubeClient, 'find' | 'create' | 'replace'>;
  namespace: string;
  secretName: string;
  sans: SubjectAltNames;
  policy?: Partial<RotationPolicy>;
  checkIntervalMs: number;
  now?: () => Date;
  logger?: Logger;
}

/** Certificates the operator manages in a Secret; every replica converges on its content. */
export class OperatorCertificates implements CertificateSource {
  private readonly options: OperatorCertificatesOptions;
  private readonly policy: RotationPolicy;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private last: TlsMaterial | undefined;
  private checking: Promise<unknown> = Promise.resolve();

  constructor(options: OperatorCertificatesOptions) {
    this.options = options;
    this.policy = { ...defaultRotationPolicy, ...options.policy };
    this.now = options.now ?? (() => new Date());
  }

  async ensure(): Promise<TlsMaterial> {
    const { client, namespace, secretName, sans } = this.options;
    for (let attempt = 0; ; attempt++) {
      const secret = await client.find<SecretObject>(resources.secret, namespace, secretName);
      const current = stateFromSecret(secret);
      const { state, reasons } = await rotate(current, sans, this.now(), this.policy);
      const material = { cert: state.cert, key: state.key, caBundle: state.caBundle };
      if (state === current) return (this.last = material);
      const data = { 'tls.crt': b64(state.cert), 'tls.key': b64(state.key), 'ca.crt': b64(state.caBundle), 'ca.key': b64(state.caKey) };
      try {
        if (secret) {
          await client.replace(resources.secret, {
            ...secret,
            data,
            metadata: { ...secret.metadata, annotations: { ...secret.metadata.annotations, [INTRODUCED_ANNOTATION]: state.caIntroducedAt } },
          });
        } else {
          await client.create<SecretObject>(resources.secret, {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'kubernetes.io/tls',
            metadata: {
              name: secretName,
              namespace,
              labels: { 'app.kubernetes.io/managed-by': 'roster', 'app.kubernetes.io/component': 'webhook' },
              annotations: { [INTRODUCED_ANNOTATION]: state.caIntroducedAt },
            },
            data,
          });
        }
        this.options.logger?.info({ secret: `${namespace}/${secretName}`, reasons }, 'webhook certificates renewed');
        return (this.last = material);
      } catch (e) {
        // Another replica renewed at the same time: take what it wrote.
        if ((isConflict(e) || isAlreadyExists(e)) && attempt < 5) continue;
        throw e;
      }
    }
  }

  start(onChange: (material: TlsMaterial) => Promise<void> | void): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(onChange), this.options.checkIntervalMs);
    this.timer.unref();
  }

  /** One check (the interval calls this; tests may too). */
  check(onChange: (material: TlsMaterial) => Promise<void> | void): Promise<void> {
    const run = this.checking.then(async () => {
      const before = this.last;
      try {
        const material = await this.ensure();
        if (!before || before.cert !== material.cert || before.caBundle !== material.caBundle) await onChange(material);
      } catch (e) {
        this.options.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'could not check the webhook certificates');
      }
    });
    this.checking = run;
    return run;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** cert-manager (or anything else) writes tls.crt/tls.key (and maybe ca.crt) into a directory. */
export class FileCertificates implements CertificateSource {
  private readonly dir: string;
  private readonly checkIntervalMs: number;
  private readonly logger: Logger | undefined;
  private timer: NodeJS.Timeout | undefined;
  private last: TlsMaterial | undefined;

  constructor(options: { certDir: string; checkIntervalMs: number; logger?: Logger }) {
    this.dir = options.certDir;
    this.checkIntervalMs = options.checkIntervalMs;
    this.logger = options.logger;
  }

  async ensure(): Promise<TlsMaterial> {
    const [cert, key] = await Promise.all([readFile(join(this.dir, 'tls.crt'), 'utf8'), readFile(join(this.dir, 'tls.key'), 'utf8')]);
    const caBundle = await readFile(join(this.dir, 'ca.crt'), 'utf8').catch(() => '');
    this.last = { cert, key, caBundle };
    return this.last;
  }

  start(onChange: (material: TlsMaterial) => Promise<void> | void): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      const before = this.last;
      this.ensure()
        .then(async (m) => {
          if (!before || before.cert !== m.cert || before.key !== m.key) await onChange(m);
        })
        .catch((e: unknown) =>
          this.logger?.warn({ err: e instanceof Error ? e.message : String(e), dir: this.dir }, 'could not read the webhook certificates'),
        );
    }, this.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The names the serving certificate must carry: the registration's host or Service, plus extras. */
export function subjectAltNamesFor(options: {
  url?: string;
  service?: { name: string; namespace: string };
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
}): SubjectAltNames {
  const dns = new Set<string>(options.dnsNames ?? []);
  const ips = new Set<string>(options.ipAddresses ?? []);
  if (options.url) {
    const host = new URL(options.url).hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) ips.add(host);
    else dns.add(host);
  }
  if (options.service) {
    const { name, namespace } = options.service;
    for (const n of [`${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`, `${name}.${namespace}`, name]) dns.add(n);
  }
  if (dns.size === 0 && ips.size === 0) {
    dns.add('localhost');
    ips.add('127.0.0.1');
  }
  return { dnsNames: [...dns], ipAddresses: [...ips] };
}
