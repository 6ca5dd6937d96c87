// A long-lived aws-local-stepfunctions runner for the perf harness: one Node process runs many
// executions, concurrently, so Node's start-up (paid once per execution by aslrun's runner) stays out
// of the end-to-end figure. Lines on stdin: first {toolsDir, definition}, then {id, input, context}.
// Lines on stdout: {ready: true} once, then per job {id, status, error?, cause?, ms, events}, where ms
// is the time from the job line's arrival to the execution's end (performance.now, sub-millisecond).
// Every Task invokes its Lambda through one client for the life of the process (lambdatasks.mjs): the
// library's client per Task left a connection open per invocation.
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import { lambdaTasks } from './lambdatasks.mjs';

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let sm, lambda;
for await (const line of lines) {
  if (!line) continue;
  const msg = JSON.parse(line);
  if (!sm) {
    const require = createRequire(path.join(msg.toolsDir, 'package.json'));
    const { StateMachine } = require('aws-local-stepfunctions');
    sm = new StateMachine(msg.definition);
    lambda = lambdaTasks(msg.toolsDir, msg.definition);
    process.stdout.write(JSON.stringify({ ready: true }) + '\n');
    continue;
  }
  run(msg, performance.now()); // not awaited: jobs overlap up to the caller's concurrency
}
// stdin closed: the executions still running finish (Node waits for them), then the client goes.
process.once('beforeExit', () => lambda?.close());

async function run(job, received) {
  const execution = sm.run(job.input, {
    context: job.context,
    overrides: { taskResourceLocalHandlers: lambda.handlers },
  });
  const events = [];
  const collecting = (async () => {
    for await (const ev of execution.eventLogs) {
      const out = { type: ev.type, timestamp: ev.timestamp };
      if (ev.state) out.state = ev.state.name;
      if (ev.Error !== undefined) out.error = ev.Error;
      events.push(out);
    }
  })();
  const report = { id: job.id, events };
  try {
    await execution.result;
    report.status = 'SUCCEEDED';
  } catch (err) {
    report.status = err.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
    const inner = err.cause ?? err;
    report.error = inner.name;
    report.cause = String(inner.message);
  }
  report.ms = performance.now() - received;
  await collecting;
  process.stdout.write(JSON.stringify(report) + '\n');
}
