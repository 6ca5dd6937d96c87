// One Lambda client for every Task state a runner executes.
//
// aws-local-stepfunctions 3.0.0 runs a Task that has no local override by building a new SDK
// LambdaClient for that one call (TaskStateAction.execute → new LambdaClient(...).invokeFunction) and
// never destroying it. Each client owns a keep-alive HTTP agent, so every invocation left one idle
// connection open for the life of the process: a descriptor here and one in the server (issue 19: a
// long-lived runner reached 20,000 after ~20,000 invocations and the run hung). The library has no
// option to share a client, so each Task state the job does not override gets a local handler that
// makes the library's own call — Invoke of the state's Resource with the state's input — and raises
// the library's own error for a function error (name = errorType, message "errorType: errorMessage",
// cause = the error payload), through one client whose agent reuses its connections. Retry, Catch,
// TimeoutSeconds and the event log are the library's, unchanged: they wrap the handler as they wrap
// its call.
import { createRequire } from 'node:module';
import path from 'node:path';

// lambdaTasks returns handlers for every Task state of definition not named in overridden, and close,
// which releases the client's connections.
export function lambdaTasks(toolsDir, definition, overridden = {}) {
  // The SDK as the library itself resolves it.
  const require = createRequire(path.join(toolsDir, 'aws-local-stepfunctions', 'package.json'));
  const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
  // Configured from the environment (AWS_ENDPOINT_URL_LAMBDA, AWS_REGION, static credentials), as the
  // library's own client is when no awsConfig is given.
  const client = new LambdaClient({});
  const handlers = {};
  for (const [name, resource] of taskResources(definition)) {
    if (name in overridden) continue;
    handlers[name] = (input) => invoke(client, InvokeCommand, resource, input);
  }
  return { handlers, close: () => client.destroy() };
}

// The library's LambdaClient.invokeFunction, on a shared client.
async function invoke(client, InvokeCommand, functionName, payload) {
  const out = await client.send(new InvokeCommand({
    FunctionName: functionName,
    Payload: new TextEncoder().encode(JSON.stringify(payload)),
  }));
  let result = null;
  if (out.Payload) result = JSON.parse(new TextDecoder().decode(out.Payload));
  if (out.FunctionError) {
    const err = new Error(`${result?.errorType}: ${result?.errorMessage}`, { cause: result });
    err.name = result?.errorType;
    throw err;
  }
  return result;
}

// Every Task state (Map and Parallel bodies included) with its Resource. Overrides are keyed by state
// name, as the library keys them: a name used twice for different resources cannot be served.
function taskResources(definition) {
  const out = new Map();
  const walk = (states) => {
    for (const [name, s] of Object.entries(states ?? {})) {
      if (s.Type === 'Task') {
        if (out.has(name) && out.get(name) !== s.Resource) {
          throw new Error(`Task state "${name}" is defined twice with different resources`);
        }
        out.set(name, s.Resource);
      }
      for (const sub of [s.ItemProcessor, s.Iterator, ...(s.Branches ?? [])]) if (sub) walk(sub.States);
    }
  };
  walk(definition.States);
  return out;
}
