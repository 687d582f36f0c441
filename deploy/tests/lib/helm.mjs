// Renders the chart with helm (the real binary) and parses the result strictly.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR, FIXTURES_DIR, HELM, KUBE_VERSION } from './paths.mjs';

export const RELEASE = 'txv';
export const NAMESPACE = 'txv';

// The values files CI deploys with: values-<env>.yaml, then Terraform's output (a fixture here).
export function valuesArgs(env) {
  return [
    '-f', path.join(CHART_DIR, `values-${env}.yaml`),
    '-f', path.join(FIXTURES_DIR, `tf-values-${env}.yaml`),
  ];
}

export function helm(args) {
  return execFileSync(HELM, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function renderText(env, extraArgs = []) {
  return helm(['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE,
    '--kube-version', KUBE_VERSION, ...valuesArgs(env), ...extraArgs]);
}

// YAML 1.1 like Kubernetes' decoder would matter for octal literals and yes/no booleans; the
// policy test rejects such ambiguous scalars instead of guessing. Duplicate keys are errors.
export function parseManifests(text) {
  const docs = [];
  for (const doc of parseAllDocuments(text, { uniqueKeys: true, strict: true })) {
    if (doc.errors.length) throw new Error(`YAML error: ${doc.errors.map(String).join('; ')}`);
    const value = doc.toJS({ maxAliasCount: 0 });
    if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

const cache = new Map();
export function render(env) {
  if (!cache.has(env)) cache.set(env, parseManifests(renderText(env)));
  // Callers may mutate: hand out a deep copy.
  return structuredClone(cache.get(env));
}
