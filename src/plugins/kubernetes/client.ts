// The one place clusterdns imports @kubernetes/client-node from: KubeConfig
// (kubeconfig files, in-cluster config, auth providers, TLS and proxy options
// for node:https), from its own module rather than the package index, which
// would pull in every API group, the WebSocket and tar code with it.
// api-source.ts loads this with import() only when an API source starts, so
// manifests mode never loads the client; the build gives it a chunk of its
// own (see build.mjs).
export { KubeConfig } from '@kubernetes/client-node/dist/config.js';
