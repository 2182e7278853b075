// Index names of the shared caches (the operator's informers), read by the controllers, the
// webhook and the seat ledger alike.
/** Index names of the shared caches. */
export const index = {
  byTeam: 'team', // value: namespace/team
  byMembership: 'membership', // invitations, value: namespace/membership
  unownedByTeam: 'unowned-team', // invitations without owner references (created by a person), value: namespace/team
  byLinkHash: 'link-hash', // invitations, value: hex hash of the live link
  byNamespace: 'namespace', // teams, value: namespace
  byEnvironmentNamespace: 'environment-namespace', // projects, value: an environment's namespace
  byKeyOwner: 'key-owner', // access keys, value: namespace/team/owner email (lower case)
} as const;
