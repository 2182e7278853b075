// Index names of the shared caches (the operator's informers), read by the controllers, the
// webhook and the seat ledger alike.
/** Index names of the shared caches. */
export const index = {
  byTeam: 'team', // value: namespace/team
  byTeamEmail: 'team-email', // memberships, value: namespace/team/normalized email (teamEmailKey)
  byMembership: 'membership', // invitations, value: namespace/membership
  unownedByTeam: 'unowned-team', // invitations without owner references (created by a person), value: namespace/team
  byLinkHash: 'link-hash', // invitations, value: hex hash of the live link
  byNamespace: 'namespace', // teams, value: namespace
  byEnvironmentNamespace: 'environment-namespace', // projects, value: an environment's namespace
  byKeyOwner: 'key-owner', // access keys, value: namespace/team/owner email (lower case)
} as const;

/** The byTeamEmail value of a person in a team: `namespace/team/<email as normalizeEmail gives it>`. */
export function teamEmailKey(namespace: string | undefined, team: string, normalizedEmail: string): string {
  return `${namespace ?? ''}/${team}/${normalizedEmail}`;
}
