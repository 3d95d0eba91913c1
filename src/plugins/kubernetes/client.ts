// The one place clusterdns imports @kubernetes/client-node from. Only what
// the API source uses crosses this boundary, so the build can bundle it
// tree-shaken into a chunk of its own (see build.mjs), and api-source.ts loads it
// with import() only when an API source starts: manifests mode and the
// other plugins never load the Kubernetes client at all.
export { KubeConfig } from '@kubernetes/client-node';
