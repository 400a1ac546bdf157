-- Argo CD health of a hearth.dev Workflow: its graph must be valid and every step's Function Ready.
local hs = { status = "Progressing", message = "Waiting for the Hearth operator to check the Workflow" }
local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then return nil end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then return c end
  end
  return nil
end
if obj.status == nil then return hs end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.message = "Waiting for the Hearth operator to observe generation " .. generation
  return hs
end
local valid = condition("Valid")
if valid ~= nil and valid.status == "False" then
  hs.status = "Degraded"
  hs.message = (valid.reason or "Invalid") .. ": " .. (valid.message or "")
  return hs
end
local ready = condition("Ready")
if ready == nil then return hs end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
if ready.reason == "FunctionNotFound" then hs.status = "Degraded" end
hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
return hs
