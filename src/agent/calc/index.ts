// Policy calculation for the node agent: a pure function of the KV model (imports only
// src/model). Feed PolicyCalculator with updates; read plans, rule programs and IP sets.
// What the dataplane does with a flow is explain() in agent/dataplane/maps, on the compiled maps.

export type { EndpointValue, NetworkSetValue } from '../../model/values/endpoint.js';
export type { ModelRule, PolicyValue, ProfileValue, TierValue } from '../../model/values/policy.js';
export { comparePolicies, compareTiers } from '../../model/values/policy-order.js';
export {
  allTierLists,
  type DirectionPlan,
  type EndpointPlan,
  type HostPlan,
  type PolicyRef,
  resolvePlan,
  type TierPlan,
} from './endpoint-plan.js';
export {
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  defaultHostConfig,
  type EndpointToHostAction,
  type FailsafePort,
  type HostPolicyConfig,
  parseFailsafePorts,
} from './host-config.js';
export type { IpSetChange } from './ip-set-index.js';
export { LabelIndex } from './label-index.js';
export { type CalcUpdate, PolicyCalculator } from './policy-calculator.js';
export { type ModelDelta, PolicyModel } from './policy-model.js';
export type { NamedPortMatch, ParsedRule, RuleProgram, SideMatch } from './rule-scan.js';
export {
  type ServicePortMember,
  type ServiceProtocol,
  serviceOfSetId,
  serviceSetId,
} from './service-index.js';
