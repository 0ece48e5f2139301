// npm run demo: Istio's Bookinfo tutorial on one machine. Ctrl-C stops everything it started.
import path from "node:path";
import { startBookinfoDemo } from "./demo.js";

const demo = await startBookinfoDemo({ log: (line) => console.log(line) });
const samples = path.relative(process.cwd(), demo.samplesDir);
const mesh = path.relative(process.cwd(), demo.meshDir);
console.log(`
Bookinfo is up: open ${demo.productpageUrl}
  (reload: reviews rotates between v1 no stars, v2 black stars, v3 red stars)

Change routing live by copying one of Istio's samples into the watched directory ${mesh}:
  cp ${samples}/virtual-service-all-v1.yaml ${mesh}/             # everyone gets v1
  cp ${samples}/virtual-service-reviews-test-v2.yaml ${mesh}/    # sign in as jason: v2 (black stars)
  cp ${samples}/virtual-service-reviews-50-v3.yaml ${mesh}/      # 50% v1, 50% v3
  cp ${samples}/virtual-service-ratings-test-delay.yaml ${mesh}/ # jason: 7 s delay, reviews time out
  cp ${samples}/virtual-service-ratings-test-abort.yaml ${mesh}/ # jason: ratings unavailable
  rm ${mesh}/virtual-service-*.yaml                                # back to round robin

Watch the mesh:  npm run xdskit -- proxy-status   ·   curl ${demo.controlPlane.monitoring?.url}/metrics
Ctrl-C stops everything.`);
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.log("stopping...");
    void demo.stop().then(() => process.exit(0));
  });
