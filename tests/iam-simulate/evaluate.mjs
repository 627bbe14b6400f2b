// Test-only batch driver for @cloud-copilot/iam-simulate (AGPL-3.0, never shipped): reads a JSON array of
// Simulation objects on stdin, writes a JSON array of {result, errors, ignored, recovered} on stdout, in order.
// result: "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "Error" (then errors says why).
//
// One gap of the evaluator is closed here, and reported: it drops request-context keys whose variable part
// follows a colon (kms:EncryptionContext:aws:s3:arn - it only matches variable keys after a slash, such as
// aws:PrincipalTag/TenantId) and the web-identity session keys (cognito-identity.amazonaws.com:sub) on
// non-STS actions, although AWS supplies both. For those keys only, the request is authorized again by the
// evaluator's own core engine with the keys kept; `recovered` lists them so the caller can check the set.
import { loadPolicy } from '@cloud-copilot/iam-policy'
import { isConditionKeyArray, runSimulation, typeForContextKey } from '@cloud-copilot/iam-simulate'
import { authorize } from './node_modules/@cloud-copilot/iam-simulate/dist/esm/core_engine/CoreSimulatorEngine.js'
import { DiscoveryContextKeyConstraints } from './node_modules/@cloud-copilot/iam-simulate/dist/esm/context_keys/discoveryContextKeyConstraints.js'
import { AwsRequestImpl } from './node_modules/@cloud-copilot/iam-simulate/dist/esm/request/request.js'
import { RequestContextImpl } from './node_modules/@cloud-copilot/iam-simulate/dist/esm/requestContext.js'

const RECOVERABLE = [/^kms:encryptioncontext:.+/i, /^cognito-identity\.amazonaws\.com:(sub|aud|amr)$/i]

async function contextOf(variables, ignored) {
  const out = {}
  for (const [key, value] of Object.entries(variables)) {
    if (ignored.includes(key) && !RECOVERABLE.some((re) => re.test(key))) continue
    let type
    try {
      type = await typeForContextKey(key.toLowerCase())
    } catch {
      type = 'String'
    }
    out[key] = isConditionKeyArray(type) ? [value].flat() : Array.isArray(value) ? value[0] : value
  }
  return out
}

async function rerun(simulation, ignored) {
  const request = new AwsRequestImpl(
    simulation.request.principal,
    { resource: simulation.request.resource.resource, accountId: simulation.request.resource.accountId },
    simulation.request.action,
    new RequestContextImpl(await contextOf(simulation.request.contextVariables, ignored)),
    false
  )
  return authorize({
    request,
    sessionPolicy: simulation.sessionPolicy ? loadPolicy(simulation.sessionPolicy, { name: 'SessionPolicy' }) : undefined,
    identityPolicies: simulation.identityPolicies.map((p) => loadPolicy(p.policy, { name: p.name })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: simulation.resourcePolicy ? loadPolicy(simulation.resourcePolicy, { name: 'ResourcePolicy' }) : undefined,
    permissionBoundaries: undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: { simulationMode: 'Strict', discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]) },
    serviceSettings: { s3: {} }
  }).result
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const simulations = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const out = []
for (const simulation of simulations) {
  try {
    const response = await runSimulation(simulation, {})
    if (response.resultType === 'error') {
      out.push({ result: 'Error', errors: response.errors })
      continue
    }
    const ignored = response.result?.ignoredContextKeys ?? []
    const recovered = ignored.filter((k) => RECOVERABLE.some((re) => re.test(k)))
    const result = recovered.length ? await rerun(simulation, ignored) : response.overallResult
    out.push({ result, ignored: ignored.filter((k) => !recovered.includes(k)), recovered })
  } catch (error) {
    out.push({ result: "Error", errors: String(error?.stack ?? error) })
  }
}
process.stdout.write(JSON.stringify(out))
