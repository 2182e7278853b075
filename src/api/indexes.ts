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

/** The byTeam value of a team: `namespace/team`; the key of the Team object itself. */
export function teamKey(namespace: string | undefined, team: string): string {
  return `${namespace ?? ''}/${team}`;
}

/** The byTeam value of an object that names its team in spec.team (Membership, Invitation, Project, AccessKey). */
export const teamKeyOf = (o: { metadata: { namespace?: string }; spec: { team: string } }): string => teamKey(o.metadata.namespace, o.spec.team);

/** The byTeam value of a Team. */
export const keyOfTeam = (team: { metadata: { namespace?: string; name?: string } }): string => teamKey(team.metadata.namespace, team.metadata.name ?? '');

/** The byTeamEmail value of a person in a team: `namespace/team/<email as normalizeEmail gives it>`. */
export function teamEmailKey(namespace: string | undefined, team: string, normalizedEmail: string): string {
  return `${teamKey(namespace, team)}/${normalizedEmail}`;
}
