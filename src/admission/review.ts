// AdmissionReview v1 on the wire: decoding a request body the API server (or anyone) sent,
// and building the response. Decoding never throws: a body that is not a review at all is
// a `malformed` result (HTTP 400); a review with a uid but a bad request is answered with a
// denial that says what is wrong.

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
}

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: UserInfo;
  object?: unknown;
  oldObject?: unknown;
  dryRun: boolean;
}

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export type Decoded =
  | { kind: 'request'; request: AdmissionRequest }
  /** A review with a uid we can answer, but a request we cannot act on. */
  | { kind: 'invalid'; uid: string; message: string }
  /** Not an AdmissionReview v1 with a request uid: nothing to answer but HTTP 400. */
  | { kind: 'malformed'; message: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function decodeReview(body: string): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'malformed', message: 'the body is not JSON; expected an admission.k8s.io/v1 AdmissionReview' };
  }
  if (!isRecord(parsed)) return { kind: 'malformed', message: 'expected an AdmissionReview object' };
  if (parsed.apiVersion !== 'admission.k8s.io/v1' || parsed.kind !== 'AdmissionReview') {
    return { kind: 'malformed', message: 'expected apiVersion admission.k8s.io/v1 and kind AdmissionReview (admissionReviewVersions: [v1])' };
  }
  const request = parsed.request;
  if (!isRecord(request)) return { kind: 'malformed', message: 'the AdmissionReview has no request' };
  const uid = str(request.uid);
  if (!uid) return { kind: 'malformed', message: 'the AdmissionReview request has no uid' };

  const invalid = (message: string): Decoded => ({ kind: 'invalid', uid, message: `malformed admission request: ${message}` });
  const operation = str(request.operation);
  if (!operation || !OPERATIONS.includes(operation)) return invalid('request.operation must be CREATE, UPDATE, DELETE or CONNECT');
  const kind = request.kind;
  if (!isRecord(kind) || typeof kind.kind !== 'string' || typeof kind.group !== 'string' || typeof kind.version !== 'string') {
    return invalid('request.kind must name group, version and kind');
  }
  const user = isRecord(request.userInfo) ? request.userInfo : {};
  const groups = Array.isArray(user.groups) ? user.groups.filter((g): g is string => typeof g === 'string') : [];
  const resource =
    isRecord(request.resource) && typeof request.resource.resource === 'string'
      ? { group: str(request.resource.group) ?? '', version: str(request.resource.version) ?? '', resource: request.resource.resource }
      : undefined;
  return {
    kind: 'request',
    request: {
      uid,
      kind: { group: kind.group, version: kind.version, kind: kind.kind },
      resource,
      subResource: str(request.subResource),
      name: str(request.name),
      namespace: str(request.namespace),
      operation: operation as Operation,
      userInfo: { username: str(user.username) ?? '', uid: str(user.uid), groups },
      object: request.object ?? undefined,
      oldObject: request.oldObject ?? undefined,
      dryRun: request.dryRun === true,
    },
  };
}

function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/** Warnings are shown to kubectl users; the API server truncates long ones, so keep them short. */
function cleanWarnings(warnings: readonly string[] | undefined): string[] | undefined {
  const list = (warnings ?? []).filter((w) => w.length > 0).map((w) => (w.length > 240 ? `${w.slice(0, 237)}...` : w));
  return list.length ? list : undefined;
}

export function allow(uid: string, options: { patch?: JsonPatchOperation[]; warnings?: readonly string[] } = {}): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (options.patch && options.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(options.patch)).toString('base64');
  }
  const warnings = cleanWarnings(options.warnings);
  if (warnings) response.warnings = warnings;
  return review(response);
}

export function deny(uid: string, message: string, options: { code?: number; warnings?: readonly string[] } = {}): AdmissionReviewResponse {
  const code = options.code ?? 403;
  const response: AdmissionResponse = {
    uid,
    allowed: false,
    status: {
      code,
      reason: code === 403 ? 'Forbidden' : code === 429 ? 'TooManyRequests' : code === 400 ? 'BadRequest' : 'InternalError',
      message: message || 'denied',
    },
  };
  const warnings = cleanWarnings(options.warnings);
  if (warnings) response.warnings = warnings;
  return review(response);
}
