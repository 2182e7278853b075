-- Argo CD health check for Roster's kinds (roster.dev/v1alpha1 Team, Membership,
-- Invitation, Project), from status.observedGeneration, status.phase and the conditions.
-- One script for all four: install it with argocd-cm-health.yaml. Written for Argo CD's
-- Lua (5.1, gopher-lua) and tested with lua5.4 over sample objects.
--   Healthy      reconciled and in the state the manifests ask for
--   Progressing  the operator has not caught up with the latest spec yet, or is still
--                working on it (kstatus' Reconciling=True)
--   Suspended    waiting on a person, not on the operator: an invitation not accepted
--                yet, a membership whose expiresAt has passed
--   Degraded     needs someone to act: over the seat limit, a backend refusal, a mail
--                or membership sync failure, an unknown team or backend, an expired
--                invitation link (kstatus' Stalled=True says so on every kind)
-- Ready=True means the same on every kind: settled, nothing left for the operator to do
-- (kstatus Current). Waiting for a person to accept is settled, hence Suspended here.
local hs = { status = "Progressing", message = "Waiting for the Roster operator to reconcile" }

local function findCondition(status, conditionType)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local status = obj.status
if status == nil then
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "Waiting for the Roster operator to observe generation " .. tostring(generation)
  return hs
end

local ready = findCondition(status, "Ready")
local phase = status.phase
local kind = obj.kind

-- Failures that need a person, whatever Ready says.
if kind == "Invitation" then
  local delivered = findCondition(status, "Delivered")
  local settled = phase == "Accepted" or phase == "Revoked"
  -- A mail that failed, or may not have left (DeliveryUnconfirmed), needs a person;
  -- one being sent or waiting out a resend cooldown arrives by itself.
  if delivered ~= nil and not settled and (delivered.status == "False" or delivered.reason == "DeliveryUnconfirmed") then
    hs.status = "Degraded"
    hs.message = delivered.message or "The invitation mail was not delivered"
    return hs
  elseif delivered ~= nil and not settled and delivered.status == "Unknown" then
    hs.status = "Progressing"
    hs.message = delivered.message or "The invitation mail is on its way"
    return hs
  end
end
if kind == "Membership" then
  local synced = findCondition(status, "IdentitySynced")
  if synced ~= nil and synced.status == "False" then
    hs.status = "Degraded"
    hs.message = synced.message or "The identity backend is not in sync"
    return hs
  end
end

local stalled = findCondition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message or "The Roster operator cannot go on until someone acts"
  return hs
end

local reconciling = findCondition(status, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = reconciling.message or "The Roster operator is working on it"
  return hs
end

if ready == nil then
  return hs
end
local message = ready.message or ""

-- Settled, but waiting on a person rather than the operator (Ready is True for these
-- since kstatus conditions were added, False before).
if kind == "Membership" and (phase == "Invited" or phase == "Expired") then
  hs.status = "Suspended"
  hs.message = message
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message
  return hs
end
if ready.status ~= "False" then
  hs.status = "Progressing"
  hs.message = message
  return hs
end

-- Ready is False.
if kind == "Invitation" and phase == "Revoked" then
  -- Revoked as declared (spec.revoked: true): nothing left to do.
  hs.status = "Healthy"
else
  hs.status = "Degraded"
end
hs.message = message
return hs
