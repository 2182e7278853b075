// Where each kind the operator touches lives in the API.
import { coreResources } from '../runtime/core-resources.ts';
import type { ResourceRef } from '../runtime/kube-client.ts';

export const group = 'roster.dev';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;

/** The finalizer on Teams, Memberships and AccessKeys: access is removed before the object goes. */
export const FINALIZER = 'roster.dev/access';

const roster = (plural: string): ResourceRef => ({ group, version, plural, namespaced: true });

export const resources = {
  team: roster('teams'),
  membership: roster('memberships'),
  invitation: roster('invitations'),
  project: roster('projects'),
  accessKey: roster('accesskeys'),
  namespace: { group: '', version: 'v1', plural: 'namespaces', namespaced: false },
  secret: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  configMap: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  serviceAccount: { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
  ...coreResources,
  roleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true },
  role: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespaced: true },
  clusterRole: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', namespaced: false },
  clusterRoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', namespaced: false },
  customResourceDefinition: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', namespaced: false },
  validatingWebhookConfiguration: {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    plural: 'validatingwebhookconfigurations',
    namespaced: false,
  },
  subjectAccessReview: { group: 'authorization.k8s.io', version: 'v1', plural: 'subjectaccessreviews', namespaced: false },
} as const satisfies Record<string, ResourceRef>;
