// xdskit: the umbrella package. Today it re-exports the SDK layers; createControlPlane (Istio YAML in,
// xDS out, certificates included) lands here as translate and certs are built.
export * from "@xdskit/core";
export * from "@xdskit/server";
