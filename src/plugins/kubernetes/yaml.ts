// Multi-document YAML (or JSON) to plain objects. js-yaml is what
// client-node's loadAllYaml parses with; calling it directly skips
// client-node's model deserializer, whose import pulls in the whole generated
// API (~0.8 s and ~80 MB): manifests mode and convert-kubedns never need it.
// Objects stay plain JSON, as the API source's watch objects already are.
import yaml from 'js-yaml';

export function loadAllYaml(text: string): unknown[] {
  return yaml.loadAll(text);
}
