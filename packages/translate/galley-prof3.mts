import { loadConfig } from "./src/config/loader.ts";
import { structuralProblems, validateObject } from "./src/validate/validate-config.ts";

const docs: string[] = [];
for (let i = 0; i < 600; i++) {
  const ns = `ns${i % 10}`;
  docs.push(
    `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: svc${i}, namespace: ${ns} }\nspec:\n  hosts: [svc${i}]\n  http:\n  - match: [{ headers: { end-user: { exact: jason } } }]\n    route: [{ destination: { host: svc${i}, subset: v1 } }]\n  - route: [{ destination: { host: svc${i}, subset: v1 }, weight: 80 }, { destination: { host: svc${(i + 1) % 1000}.ns${(i + 1) % 10}.svc.cluster.local }, weight: 20 }]\n    timeout: 3s\n    retries: { attempts: 3, perTryTimeout: 1s }`,
  );
}
const { objects } = loadConfig(docs.join("\n---\n"));
for (let round = 0; round < 2; round++) {
  let t = performance.now();
  for (const o of objects) structuralProblems(o);
  console.log("structural", Math.round(performance.now() - t));
  t = performance.now();
  for (const o of objects) validateObject(o);
  console.log("all", Math.round(performance.now() - t));
}
