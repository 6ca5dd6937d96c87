// Runs one execution of an ASL definition with aws-local-stepfunctions and prints a JSON report.
// Driven by the Go package aslrun (Node 22). Job on stdin:
//   {toolsDir, definition, input, context?, overrides?: {state: [response…]}, instantRetries?,
//    retryIntervalOverrides?: {state: ms | [ms…]}}
// A response is {return: value} | {error, cause} | {js: "(input) => value"}: each Task state named in
// overrides consumes its responses in turn (the last one repeats); other Task states invoke the real
// Lambda function named by Resource, configured from the environment (AWS_REGION, credentials and
// AWS_ENDPOINT_URL_LAMBDA pointing at an emulator), all through one client (lambdatasks.mjs).
// Report on stdout: {status, output?, error?, cause?, invocations: [{state, input, error?}], events}.
import { createRequire } from 'node:module';
import path from 'node:path';
import { lambdaTasks } from './lambdatasks.mjs';

const job = JSON.parse(await readStdin());
const require = createRequire(path.join(job.toolsDir, 'package.json'));
const { StateMachine } = require('aws-local-stepfunctions');

const invocations = [];
const handlers = {};
for (const [stateName, responses] of Object.entries(job.overrides ?? {})) {
  let next = 0;
  handlers[stateName] = async (input) => {
    const r = responses[Math.min(next++, responses.length - 1)];
    const call = { state: stateName, input };
    invocations.push(call);
    try {
      if ('js' in r) return await (0, eval)(`(${r.js})`)(input);
      if ('error' in r) throw namedError(r.error, r.cause ?? '');
      return r.return ?? null;
    } catch (err) {
      call.error = err.name;
      throw err;
    }
  };
}

const retryIntervalOverrides = { ...(job.retryIntervalOverrides ?? {}) };
if (job.instantRetries) {
  for (const name of statesWithRetry(job.definition)) retryIntervalOverrides[name] ??= 0;
}

// No awsConfig: the SDK's default chain (the environment) is the only way to reach an endpoint
// override; awsConfig demands credentials of its own.
const sm = new StateMachine(job.definition);
const lambda = lambdaTasks(job.toolsDir, job.definition, handlers);
const execution = sm.run(job.input, {
  overrides: { taskResourceLocalHandlers: { ...lambda.handlers, ...handlers }, retryIntervalOverrides },
  context: job.context,
});

const events = [];
const collecting = (async () => {
  for await (const ev of execution.eventLogs) events.push(compact(ev));
})();

const report = { invocations, events };
try {
  report.output = await execution.result;
  report.status = 'SUCCEEDED';
} catch (err) {
  report.status = err.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
  // ExecutionError wraps the state error; its cause carries the Fail state's Error/Cause.
  const inner = err.cause ?? err;
  report.error = inner.name;
  report.cause = typeof inner.message === 'string' ? inner.message : JSON.stringify(inner.message);
}
await collecting;
lambda.close();
process.stdout.write(JSON.stringify(report));

// A state error's name is what ErrorEquals matches; its message becomes the Cause.
function namedError(name, cause) {
  const err = new Error(cause);
  err.name = name;
  return err;
}

// Every state (Map and Parallel bodies included) with a Retry, so tests need not list them.
function statesWithRetry(def) {
  const out = [];
  const walk = (states) => {
    for (const [name, s] of Object.entries(states ?? {})) {
      if (s.Retry) out.push(name);
      for (const sub of [s.ItemProcessor, s.Iterator, ...(s.Branches ?? [])]) if (sub) walk(sub.States);
    }
  };
  walk(def.States);
  return out;
}

// The event log without the bulky inputs and outputs (their sizes only): type, time (ms since the
// epoch: a trace derives each state's duration from it, Pass/Choice/Map included), state, index, retry
// attempt, error.
function compact(ev) {
  const out = { type: ev.type };
  if (ev.timestamp !== undefined) out.timestamp = ev.timestamp;
  if (ev.state) out.state = ev.state.name;
  if (ev.parentState) out.parentState = ev.parentState.name;
  if (ev.index !== undefined) out.index = ev.index;
  if (ev.Error !== undefined) out.error = ev.Error;
  if (ev.retry) out.attempt = ev.retry.attempt;
  // Sizes of the data the event carries, as a log at level ALL with execution data records it: JSON
  // text escaped into a JSON string.
  const input = ev.state?.input ?? ev.input, output = ev.state?.output ?? ev.output;
  if (input !== undefined) out.inBytes = jsonBytes(input);
  if (output !== undefined) out.outBytes = jsonBytes(output);
  return out;
}

function jsonBytes(v) {
  return Buffer.byteLength(JSON.stringify(JSON.stringify(v) ?? ''), 'utf8') - 2;
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}
