// Generated from crds/*.yaml by `npm run generate`. Do not edit by hand:
// change the CRD and regenerate (a test fails when this file drifts from the CRDs).

import type { ObjectMeta } from '../runtime/kube-client.ts';

/** A metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/**
 * An AccessKey is a credential for automation (a CI pipeline) that acts for one person of the team, its owner, and never gets more than that person has: its effective rights are the requested role and projects intersected with the owner's current rights. Roster realises it as a ServiceAccount roster-key-<name> in the team's namespace with RoleBindings in the in-scope, assigned environment namespaces. No long-lived secret exists: the owner mints short-lived tokens (kubectl roster key token NAME, or kubectl create token roster-key-NAME). Deleting the key deletes the ServiceAccount, which invalidates every token it minted. Keys take no seat.
 */
export interface AccessKey {
  apiVersion: 'roster.dev/v1alpha1';
  kind: 'AccessKey';
  metadata: ObjectMeta;
  spec: AccessKeySpec;
  status?: AccessKeyStatus;
}
/**
 * The desired key.
 */
export interface AccessKeySpec {
  /**
   * Name of the Team in this namespace this key belongs to. Immutable.
   */
  team: string;
  /**
   * The email of the person the key acts for. Stamped by the admission webhook from the user who creates the key (only an Active owner or admin of the team may); any value written here is replaced. Immutable.
   */
  owner?: string;
  /**
   * The role the key asks for: developer (deploy and manage environments) or observer (read-only). It gets at most the owner's role.
   */
  role: 'developer' | 'observer';
  /**
   * Limits the key to these projects and, within each, optionally to some environments (as in a Membership). Omitted means the whole team, as far as the owner reaches.
   *
   * @maxItems 100
   */
  projects?: {
    /**
     * Name of a Project of the same team.
     */
    name: string;
    /**
     * Environments of the project the role applies to. Omitted means all of the project's environments.
     *
     * @maxItems 50
     */
    environments?: string[];
  }[];
  /**
   * When the key stops working (RFC 3339). Required, and at most 90 days ahead (operator config accessKeys.maxLifetimeDays). At that time the phase becomes Expired and the ServiceAccount is deleted, which invalidates its tokens.
   */
  expiresAt: string;
}
/**
 * The observed state of the key, written by the operator.
 */
export interface AccessKeyStatus {
  /**
   * The metadata.generation this status was computed from.
   */
  observedGeneration?: number;
  /**
   * Active (bindings in place for the effective rights), Suspended (the owner has no active access to the team, or none that overlaps the key: no bindings) or Expired (past spec.expiresAt: ServiceAccount deleted).
   */
  phase?: 'Active' | 'Suspended' | 'Expired';
  /**
   * What the key holds now: its request intersected with the owner's current rights.
   */
  effective?: {
    /**
     * The effective role (developer or observer).
     */
    role?: string;
    /**
     * The effective scope; omitted means the whole team.
     */
    projects?: {
      /**
       * A Project of the team.
       */
      name: string;
      /**
       * Environments of the project; omitted means all of them.
       */
      environments?: string[];
    }[];
  };
  /**
   * The ServiceAccount in this namespace that the key's tokens are minted for.
   */
  serviceAccount?: string;
  conditions?: Condition[];
}

/**
 * An Invitation offers a person a role in a team through an emailed, single-use, expiring link. The operator creates one for every Membership not accepted yet; a person may also create one directly, and accepting it creates the Membership. Annotate it with roster.dev/resend to mint a fresh link; set spec.revoked to revoke it.
 */
export interface Invitation {
  apiVersion: 'roster.dev/v1alpha1';
  kind: 'Invitation';
  metadata: ObjectMeta;
  spec: InvitationSpec;
  status?: InvitationStatus;
}
/**
 * The invitation.
 */
export interface InvitationSpec {
  /**
   * Name of the Team in this namespace this object belongs to. Immutable.
   */
  team: string;
  /**
   * The invitee's email address; the mail goes here. Immutable.
   */
  email: string;
  /**
   * The invitee's display name, if known.
   */
  name?: string;
  /**
   * The role offered: admin, developer, observer or billing (see Membership spec.role). The operator invites a Team's spec.owner with role owner; people cannot create owner invitations.
   */
  role: 'owner' | 'admin' | 'developer' | 'observer' | 'billing';
  /**
   * Limits the role to these projects and, within each, optionally to some environments. Omitted means the whole team. Only developer and observer may be scoped; admin and billing are team-wide.
   *
   * @maxItems 100
   */
  projects?: {
    /**
     * Name of a Project of the same team.
     */
    name: string;
    /**
     * Environments of the project the role applies to. Omitted means all of the project's environments.
     *
     * @maxItems 50
     */
    environments?: string[];
  }[];
  /**
   * Optional note from the inviter shown in the mail and on the accept page. At most 2000 characters: the API server refuses a longer one, so the operator's mails cannot carry bulk text for someone else.
   */
  message?: string;
  /**
   * Set true to revoke the invitation. The link stops working for good; the record stays.
   */
  revoked?: boolean;
}
/**
 * The observed state of the invitation, written by the operator.
 */
export interface InvitationStatus {
  /**
   * The metadata.generation this status was computed from.
   */
  observedGeneration?: number;
  /**
   * Pending (link live), Accepted, Revoked or Expired (a resend revives it).
   */
  phase?: 'Pending' | 'Accepted' | 'Revoked' | 'Expired';
  /**
   * When the current link was last mailed.
   */
  sentAt?: string;
  /**
   * When the current link stops working.
   */
  expiresAt?: string;
  /**
   * How many mails went out (first send and resends).
   */
  deliveries?: number;
  /**
   * When the invitation was accepted.
   */
  acceptedAt?: string;
  /**
   * Who asked for the invitation (the user who created the object or its Membership), when known.
   */
  inviter?: string;
  /**
   * The roster.dev/resend annotation value last acted on.
   */
  resendToken?: string;
  /**
   * The Membership this invitation is for, or the one created when it was accepted.
   */
  membership?: string;
  /**
   * The current link. Only a SHA-256 hash of its token is kept; the token itself exists only in the mail. Absent when no link is live (revoked, expired, accepted).
   */
  link?: {
    /**
     * A short, non-secret identifier of the link, for logs and Events.
     */
    id?: string;
    /**
     * Hex SHA-256 of the link's token.
     */
    hash?: string;
  };
  /**
   * The mail for the current link. The operator records the intent to send (with the Message-ID) before sending and confirms after, so a restart never mails a link twice.
   */
  delivery?: {
    /**
     * The link this delivery is for.
     */
    linkId?: string;
    /**
     * The Message-ID of the mail.
     */
    messageId?: string;
    /**
     * Sending (recorded, not yet confirmed), Sent, Failed (retrying; see the Delivered condition) or Unconfirmed (the operator stopped mid-send; it is not sent again — resend if it did not arrive).
     */
    state?: 'Sending' | 'Sent' | 'Failed' | 'Unconfirmed';
    /**
     * True when this mail was sent again after an interrupted send (Team spec.invitations.delivery AtLeastOnce): the person may have two mails; only this link works.
     */
    possibleDuplicate?: boolean;
    /**
     * Failed attempts for this link so far.
     */
    attempts?: number;
  };
  /**
   * When this invitation's mails went out in the last 24 hours (RFC 3339). The operator's per-team daily mail quota (mail.dailyQuotaPerTeam) counts these over the team's invitations.
   *
   * @maxItems 1000
   */
  recentMails?: string[];
  conditions?: Condition[];
}

/**
 * A Membership says that a person belongs to a team with a role, optionally scoped to projects and environments. Until the person accepts the invitation Roster mails them, it grants nothing; once accepted, Roster provisions them in the team's identity backend and keeps that in line with this object. Deleting it removes the access.
 */
export interface Membership {
  apiVersion: 'roster.dev/v1alpha1';
  kind: 'Membership';
  metadata: ObjectMeta;
  spec: MembershipSpec;
  status?: MembershipStatus;
}
/**
 * The desired membership.
 */
export interface MembershipSpec {
  /**
   * Name of the Team in this namespace this object belongs to. Immutable.
   */
  team: string;
  /**
   * The person's email address; the invitation goes here. Immutable.
   */
  email: string;
  /**
   * The person's display name, used in the mail and the identity backend.
   */
  name?: string;
  /**
   * The person's role: admin (everything but billing, plan and ownership; team-wide), developer (deploy and manage environments; may be scoped to projects), observer (read-only; may be scoped to projects) or billing (billing only; team-wide). The owner is not a role here: it is the Team's spec.owner.
   */
  role: 'admin' | 'developer' | 'observer' | 'billing';
  /**
   * Limits the role to these projects and, within each, optionally to some environments. Omitted means the whole team. Only developer and observer may be scoped; admin and billing are team-wide.
   *
   * @maxItems 100
   */
  projects?: {
    /**
     * Name of a Project of the same team.
     */
    name: string;
    /**
     * Environments of the project the role applies to. Omitted means all of the project's environments.
     *
     * @maxItems 50
     */
    environments?: string[];
  }[];
  /**
   * Optional end of access (RFC 3339). At that time access is removed and the phase becomes Expired.
   */
  expiresAt?: string;
}
/**
 * The observed state of the membership, written by the operator.
 */
export interface MembershipStatus {
  /**
   * The metadata.generation this status was computed from.
   */
  observedGeneration?: number;
  /**
   * Invited (invitation created, not accepted yet; see delivery), Active (accepted and provisioned), Expired (past spec.expiresAt), OverSeatLimit (admitted past the seat limit; grants nothing until a seat frees), Superseded (the person owns the team, which includes everything this grants; not a failure, Ready is True; it takes effect again if ownership moves on), Failed (see the conditions).
   */
  phase?: 'Invited' | 'Active' | 'Expired' | 'OverSeatLimit' | 'Superseded' | 'Failed';
  /**
   * While Invited, what became of the invitation mail: Sending, Sent, Failed (retrying), Unconfirmed (the operator stopped mid-send and, under the team's AtMostOnce policy, does not send it again: resend if it did not arrive) or Deferred (held by the daily mail quota or the resend cooldown). See the Delivered condition.
   */
  delivery?: 'Sending' | 'Sent' | 'Failed' | 'Unconfirmed' | 'Deferred';
  /**
   * Name of the Invitation currently in flight for this membership, if any.
   */
  invitation?: string;
  /**
   * When the person accepted.
   */
  acceptedAt?: string;
  /**
   * Where the person is provisioned.
   */
  identity?: {
    /**
     * Name of the identity backend.
     */
    backend?: string;
    /**
     * The person's identifier in that backend.
     */
    subject?: string;
    /**
     * The role currently granted in the backend.
     */
    role?: string;
    /**
     * The environments access is currently granted in, as project/environment.
     */
    scope?: string[];
  };
  conditions?: Condition[];
}

/**
 * A Project groups environments of a team, each running in a Kubernetes namespace. Memberships may be scoped to projects and environments: roles say what, projects say where.
 */
export interface Project {
  apiVersion: 'roster.dev/v1alpha1';
  kind: 'Project';
  metadata: ObjectMeta;
  spec: ProjectSpec;
  status?: ProjectStatus;
}
/**
 * The project.
 */
export interface ProjectSpec {
  /**
   * Name of the Team in this namespace this object belongs to. Immutable.
   */
  team: string;
  /**
   * Human-readable name. Defaults to the object's name.
   */
  displayName?: string;
  /**
   * The project's environments, each mapped to the namespace it runs in.
   *
   * @minItems 1
   * @maxItems 50
   */
  environments: [
    {
      /**
       * Environment name such as production or staging (a DNS label).
       */
      name: string;
      /**
       * The Kubernetes namespace the environment runs in; role bindings for scoped members go here.
       */
      namespace: string;
    },
    ...{
      /**
       * Environment name such as production or staging (a DNS label).
       */
      name: string;
      /**
       * The Kubernetes namespace the environment runs in; role bindings for scoped members go here.
       */
      namespace: string;
    }[]
  ];
}
/**
 * The observed state of the project, written by the operator.
 */
export interface ProjectStatus {
  /**
   * The metadata.generation this status was computed from.
   */
  observedGeneration?: number;
  /**
   * People with access to the project.
   */
  members?: number;
  conditions?: Condition[];
}

/**
 * A Team is a group of people with one owner and a seat limit. Roster invites the owner and every Membership of the team by email and, once they accept, grants them access in the team's identity backend. Memberships, Invitations and Projects refer to a Team by name in the same namespace.
 */
export interface Team {
  apiVersion: 'roster.dev/v1alpha1';
  kind: 'Team';
  metadata: ObjectMeta;
  spec: TeamSpec;
  status?: TeamStatus;
}
/**
 * The desired state of the team.
 */
export interface TeamSpec {
  /**
   * Human-readable name shown in invitation mails and on the accept page. Defaults to the object's name.
   */
  displayName?: string;
  /**
   * The team's single owner. The owner is invited like everyone else when the team is created. Editing this field transfers ownership: the new owner must already be an Active admin of the team, and the previous owner stays on as an admin through a Membership the operator creates.
   */
  owner: {
    /**
     * The owner's email address; invitations are sent here and it names the person in the identity backend.
     */
    email: string;
    /**
     * The owner's display name, used in mails and in the identity backend.
     */
    name?: string;
  };
  /**
   * The plan's seat limit. Seats in use are the owner, every Membership and every standalone Invitation still pending. Admission refuses a new Membership or Invitation when no seat is left, and refuses lowering this below the seats in use.
   */
  seats: number;
  /**
   * How invitations of this team are sent.
   */
  invitations?: {
    /**
     * How long an invitation link stays valid, as a Go duration (for example 72h, 168h, 90m). Defaults to 168h (7 days). A resend restarts it.
     */
    ttl?: string;
    /**
     * Sender of the invitation mails, such as "Acme <team@acme.com>". Defaults to the operator's configured sender.
     */
    from?: string;
    /**
     * What happens to a mail whose sending was interrupted (the operator stopped after recording the intent to send and before hearing back from the mail server). AtMostOnce (default): it is never sent again; the Invitation and the Membership show Delivery Unconfirmed and say how to resend; a person may get no mail. AtLeastOnce: it is mailed again with a fresh link, recorded as a possible duplicate; a person may get two mails (only the newer link works), never none.
     */
    delivery?: 'AtMostOnce' | 'AtLeastOnce';
    /**
     * Where the accept page sends people once they accepted (the team's dashboard, the cluster's login page), shown as a button. https only. Defaults to the operator's acceptPage.welcomeUrl; neither set: no button.
     */
    welcomeUrl?: string;
  };
  /**
   * A stricter removal brake for this team than the operator's (SPEC §8). When deletions in the team within the window would take access from more than maxFraction of its active members (and more than minPeople), the excess is held: access and Memberships stay until an owner or admin releases them with `kubectl roster release TEAM`. A team can only tighten the operator's policy; looser values are ignored.
   */
  removalBrake?: {
    /**
     * Share of active members that may lose access within the window without a release.
     */
    maxFraction?: number;
    /**
     * Removals always allowed within the window, whatever the fraction says.
     */
    minPeople?: number;
    /**
     * How far back removals count, as a Go duration such as 10m or 1h.
     */
    window?: string;
  };
  /**
   * Where the team's people are provisioned.
   */
  identity?: {
    /**
     * Name of an identity backend configured in the operator (kubernetes, keycloak, ldap or scim). Defaults to the backend named "default".
     */
    backend?: string;
  };
}
/**
 * The observed state of the team, written by the operator.
 */
export interface TeamStatus {
  /**
   * The metadata.generation this status was computed from.
   */
  observedGeneration?: number;
  /**
   * The owner as the operator sees them.
   */
  owner?: {
    /**
     * The owner's email.
     */
    email?: string;
    /**
     * Invited until the owner accepts, then Active.
     */
    phase?: 'Invited' | 'Active' | 'Failed';
    /**
     * The owner's Invitation currently in flight, if any.
     */
    invitation?: string;
  };
  /**
   * Seat accounting.
   */
  seats?: {
    /**
     * The seat limit (spec.seats).
     */
    limit?: number;
    /**
     * Seats taken by the owner and accepted members.
     */
    used?: number;
    /**
     * Seats held by members and standalone invitations not accepted yet.
     */
    pending?: number;
    /**
     * Seats left (limit - used - pending, never below zero).
     */
    available?: number;
    /**
     * Seats in use over the limit, such as "7/10", for the printer column.
     */
    summary?: string;
  };
  /**
   * Active people on the team, owner included.
   */
  members?: number;
  /**
   * The removal brake (SPEC §8) as the operator keeps it for this team.
   */
  removals?: {
    /**
     * Removals that went through within the brake's window.
     */
    recent?: {
      /**
       * The Membership.
       */
      name?: string;
      /**
       * When its removal was let through.
       */
      at?: string;
    }[];
    /**
     * Memberships on their way out whose removal is let through (their access is being removed).
     */
    approved?: string[];
    /**
     * Memberships on their way out whose removal is held; their access stays until released.
     */
    held?: {
      /**
       * The Membership.
       */
      name?: string;
      /**
       * The person.
       */
      email?: string;
      /**
       * When the Membership was deleted.
       */
      requestedAt?: string;
    }[];
    /**
     * Identifies the set of held removals; `kubectl roster release` releases exactly this set.
     */
    holdId?: string;
  };
  conditions?: Condition[];
}
