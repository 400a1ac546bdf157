-- Argo CD health of a hearth.dev Job (one declared invocation): Complete or Failed at the end.
local hs = { status = "Progressing", message = "Waiting for the Hearth operator to start the Job" }
if obj.status == nil or obj.status.conditions == nil then return hs end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Complete" and c.status == "True" then
    hs.status = "Healthy"
    hs.message = c.message or "Complete"
    return hs
  end
  if c.type == "Failed" and c.status == "True" then
    hs.status = "Degraded"
    if c.message ~= nil and c.message ~= "" then hs.message = (c.reason or "Failed") .. ": " .. c.message else hs.message = c.reason or "Failed" end
    return hs
  end
end
local attempts = 0
if obj.status.attempts ~= nil then attempts = #obj.status.attempts end
if attempts > 0 then
  hs.message = "Running (attempt " .. attempts .. ")"
else
  hs.message = "Running"
end
return hs
