-- Argo CD health check for Roster's kinds (roster.dev/v1alpha1 Team, Membership,
-- Invitation, Project), from status.observedGeneration, status.phase and the conditions.
-- One script for all four: install it with argocd-cm-health.yaml. Written for Argo CD's
-- Lua (5.1, gopher-lua) and tested with lua5.4 over sample objects.
--   Healthy      reconciled and in the state the manifests ask for
--   Progressing  the operator has not caught up with the latest spec yet
--   Suspended    waiting on a person, not on the operator: an invitation not accepted
--                yet, a membership whose expiresAt has passed
--   Degraded     needs someone to act: over the seat limit, a backend or mail failure,
--                an unknown team or backend, an expired invitation link
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
  if delivered ~= nil and delivered.status ~= "True" and phase ~= "Accepted" and phase ~= "Revoked" then
    hs.status = "Degraded"
    hs.message = delivered.message or "The invitation mail was not delivered"
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

if ready == nil then
  return hs
end
local message = ready.message or ""

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
if kind == "Membership" and (phase == "Invited" or phase == "Expired") then
  hs.status = "Suspended"
elseif kind == "Invitation" and phase == "Revoked" then
  -- Revoked as declared (spec.revoked: true): nothing left to do.
  hs.status = "Healthy"
else
  hs.status = "Degraded"
end
hs.message = message
return hs
