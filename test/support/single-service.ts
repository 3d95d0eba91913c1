// One ClusterIP Service (web.live, 10.96.9.1) in a manifests directory: the
// smallest cluster a plugin test needs when it only wants a kubernetes block
// that answers something.
import { join } from 'node:path';
import { writeCluster } from './kubernetes-fixtures.js';

export const SINGLE_SERVICE_YAML = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: live}
spec: {clusterIP: 10.96.9.1, ports: [{name: http, port: 80, protocol: TCP}]}
`;

/** Writes the manifest into a fresh temp directory (remove it with removeDir). */
export function writeSingleService(): { dir: string; manifest: string } {
  const dir = writeCluster({ 'svc.yaml': SINGLE_SERVICE_YAML });
  return { dir, manifest: join(dir, 'svc.yaml') };
}
