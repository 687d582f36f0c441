// Dockerfile, statically (the build itself runs in scripts/test-deploy.sh with podman): stages,
// base image, runtime user and entrypoint, labels, and what the build context leaves out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DEPLOY_DIR } from './lib/paths.mjs';

const DOCKERFILE = path.join(DEPLOY_DIR, 'docker', 'Dockerfile');

// Instructions as [stage, keyword, args], with continuation lines joined and comments dropped.
export function instructions(text) {
  const out = [];
  let stage = null;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, kw, args] = /^(\w+)\s*(.*)$/.exec(line) || [];
    if (!kw) continue;
    if (kw.toUpperCase() === 'FROM') stage = (/\bAS\s+(\S+)/i.exec(args) || [])[1] || args;
    out.push([stage, kw.toUpperCase(), args]);
  }
  return out;
}

export function checkDockerfile(text) {
  const v = [];
  const ins = instructions(text);
  const froms = ins.filter(([, kw]) => kw === 'FROM');
  const stages = froms.map(([s]) => s);
  const inStage = (s) => ins.filter(([st]) => st === s);
  const args = (s, kw) => inStage(s).filter(([, k]) => k === kw).map(([, , a]) => a);

  if (!/^ARG BASE_IMAGE=debian:bookworm-slim$/m.test(text)) v.push('base image must default to debian:bookworm-slim');
  for (const s of ['toolchain', 'build-source', 'build-prebuilt', 'skeleton', 'runtime-base', 'runtime-prebuilt', 'runtime']) {
    if (!stages.includes(s)) v.push(`stage ${s} missing`);
  }
  if (stages[stages.length - 1] !== 'runtime') v.push('the default (last) target must be runtime, built from source');
  if (!args('toolchain', 'RUN').some((a) => a.includes('scripts/install-deps.sh'))) v.push('the build must install dependencies with scripts/install-deps.sh');
  if (!/FROM scratch AS runtime-base/.test(text)) v.push('runtime must start from scratch (only the binary and its libraries)');
  for (const s of ['runtime', 'runtime-prebuilt']) {
    if (!froms.some(([st, , a]) => st === s && /^runtime-base\b/.test(a))) v.push(`${s} must derive from runtime-base`);
  }
  const user = args('runtime-base', 'USER')[0] || '';
  if (!/^[1-9]\d*:[1-9]\d*$/.test(user)) v.push(`USER must be a numeric non-root uid:gid, is "${user}"`);
  if (args('runtime-base', 'STOPSIGNAL')[0] !== 'SIGTERM') v.push('STOPSIGNAL SIGTERM missing');
  let entrypoint;
  try {
    entrypoint = JSON.parse(args('runtime-base', 'ENTRYPOINT')[0] || 'null');
  } catch {
    entrypoint = null;
  }
  if (JSON.stringify(entrypoint) !== '["/usr/local/bin/txv","serve"]') v.push('ENTRYPOINT must be exec form ["/usr/local/bin/txv", "serve"]');
  if (!args('runtime-base', 'EXPOSE').includes('8080')) v.push('EXPOSE 8080 missing');
  const labels = args('runtime-base', 'LABEL').join(' ');
  for (const l of ['title', 'description', 'version', 'revision', 'created', 'source', 'licenses']) {
    if (!labels.includes(`org.opencontainers.image.${l}=`)) v.push(`OCI label ${l} missing`);
  }
  if (ins.some(([, kw, a]) => kw === 'ADD' && /https?:/.test(a))) v.push('no downloads with ADD');
  if (froms.some(([, , a]) => /:latest\b/.test(a))) v.push('no :latest base images');
  if (ins.some(([, kw, a]) => kw === 'ENV' && /(PAN_KEY|PASSWORD|TOKEN|SECRET)\s*=/i.test(a))) v.push('no secrets in ENV');
  if (!/TXV_DATABASE_URL=sqlite:\/var\/lib\/txv\//.test(text)) v.push('the embedded data directory must be /var/lib/txv (a mountable volume)');
  return v;
}

const text = fs.readFileSync(DOCKERFILE, 'utf8');

test('Dockerfile policy holds', () => {
  assert.deepEqual(checkDockerfile(text), []);
});

test('the build context leaves out build output and VCS data', () => {
  const ignore = fs.readFileSync(`${DOCKERFILE}.dockerignore`, 'utf8').split('\n').map((l) => l.trim());
  for (const p of ['.git', 'build', 'build-*', '**/node_modules']) assert.ok(ignore.includes(p), `${p} not ignored`);
});

for (const [what, from, to, expected] of [
  ['root user', 'USER 10001:10001', 'USER root', /numeric non-root/],
  ['uid 0', 'USER 10001:10001', 'USER 0:0', /numeric non-root/],
  ['shell-form entrypoint', 'ENTRYPOINT ["/usr/local/bin/txv", "serve"]', 'ENTRYPOINT /usr/local/bin/txv serve', /exec form/],
  ['no stop signal', 'STOPSIGNAL SIGTERM', '', /STOPSIGNAL/],
  ['Debian runtime base', 'FROM scratch AS runtime-base', 'FROM debian:bookworm-slim AS runtime-base', /scratch/],
  ['OCI label dropped', '      org.opencontainers.image.revision="${REVISION}" \\\n', '', /label revision/],
  ['dependencies from elsewhere', 'RUN /src/scripts/install-deps.sh', 'RUN apt-get install -y build-essential', /install-deps/],
]) {
  test(`the check catches: ${what}`, () => {
    assert.ok(text.includes(from), `fixture text "${from}" not in the Dockerfile`);
    assert.match(checkDockerfile(text.replace(from, to)).join('\n'), expected);
  });
}
