// Helm chart: lint, render for both environments, validate every object against the Kubernetes
// schemas (plus unknown fields), and assert the deployment policy. The mutation tests prove that
// the policy check fails when a setting goes missing.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, DEPLOY_DIR, ENVS, KUBE_VERSION, listFiles } from './lib/paths.mjs';
import { helm, render, renderText, valuesArgs, parseManifests } from './lib/helm.mjs';
import { validateObject } from './lib/k8s-schema.mjs';
import { checkPolicy } from './lib/policy.mjs';

const tryHelm = (args) => {
  try {
    return { ok: true, out: helm(args) };
  } catch (e) {
    return { ok: false, out: `${e.stdout || ''}${e.stderr || ''}` };
  }
};

for (const env of ENVS) {
  describe(`chart with values-${env}.yaml`, () => {
    test('helm lint --strict passes', () => {
      const r = tryHelm(['lint', '--strict', CHART_DIR, ...valuesArgs(env)]);
      assert.ok(r.ok, r.out);
    });

    test(`helm template --kube-version ${KUBE_VERSION} renders`, () => {
      const docs = parseManifests(renderText(env));
      assert.ok(docs.length >= 10, `only ${docs.length} objects rendered`);
    });

    test('every object matches its Kubernetes schema, with no unknown fields', () => {
      const problems = render(env).flatMap(validateObject);
      assert.deepEqual(problems, []);
    });

    test('deployment policy holds', () => {
      assert.deepEqual(checkPolicy(render(env), env), []);
    });

    test('no two objects of a kind share a name', () => {
      const seen = new Set();
      for (const d of render(env)) {
        const k = `${d.apiVersion}/${d.kind}/${d.metadata.name}`;
        assert.ok(!seen.has(k), `duplicate ${k}`);
        seen.add(k);
      }
    });
  });
}

const tryTemplate = (env, ...set) =>
  tryHelm(['template', 'txv', CHART_DIR, '--kube-version', KUBE_VERSION, ...valuesArgs(env), ...set.flatMap((x) => ['--set', x])]);

describe('chart refuses incomplete values', () => {
  for (const key of ['ingress.certificateArn', 'ingress.wafAclArn', 'serviceAccount.roleArn', 'database.host', 'redis.host', 'image.repository', 'secrets.names.panKey']) {
    test(`fails without ${key}`, () => {
      const r = tryTemplate('prod', `${key}=`);
      assert.ok(!r.ok, `rendered without ${key}`);
      assert.match(r.out, new RegExp(key.replaceAll('.', '\\.')));
    });
  }
  test('fails without the ALB source CIDRs of the NetworkPolicy', () => {
    const r = tryTemplate('prod', 'networkPolicy.albSourceCidrs=null');
    assert.ok(!r.ok);
    assert.match(r.out, /albSourceCidrs/);
  });
  test('values schema rejects a misspelled key', () => {
    const r = tryHelm(['lint', '--strict', CHART_DIR, ...valuesArgs('prod'), '--set', 'autoscalling.enabled=false']);
    assert.ok(!r.ok);
    assert.match(r.out, /autoscalling/);
  });
  test('a drain delay as long as the grace period is refused', () => {
    const r = tryTemplate('prod', 'config.drainDelaySeconds=25');
    assert.ok(!r.ok);
    assert.match(r.out, /drainDelaySeconds/);
  });
  test('an HPA below 2 replicas is refused', () => {
    const r = tryTemplate('prod', 'autoscaling.minReplicas=1');
    assert.ok(!r.ok);
    assert.match(r.out, /minReplicas must be at least 2/);
  });
  test('Kubernetes older than 1.28 is refused', () => {
    const r = tryHelm(['template', 'txv', CHART_DIR, '--kube-version', '1.27.0', ...valuesArgs('prod')]);
    assert.ok(!r.ok);
    assert.match(r.out, /kubeVersion/);
  });
});

// Each mutation removes or weakens one setting; the policy must name the rule it breaks.
const container = (docs) => docs.find((d) => d.kind === 'Deployment').spec.template.spec.containers[0];
const podSpec = (docs) => docs.find((d) => d.kind === 'Deployment').spec.template.spec;
const annotations = (docs) => docs.find((d) => d.kind === 'Ingress').metadata.annotations;
const mutations = [
  ['prod', 'probes', 'readiness probe removed', (d) => { delete container(d).readinessProbe; }],
  ['prod', 'probes', 'liveness probe on /readyz', (d) => { container(d).livenessProbe.httpGet.path = '/readyz'; }],
  ['dev', 'probes', 'startup probe removed', (d) => { delete container(d).startupProbe; }],
  ['prod', 'resources', 'memory limit removed', (d) => { delete container(d).resources.limits.memory; }],
  ['prod', 'resources', 'helm test pod without limits', (d) => { delete d.find((x) => x.kind === 'Pod').spec.containers[0].resources.limits; }],
  ['prod', 'pdb', 'PodDisruptionBudget removed', (d) => d.splice(d.findIndex((x) => x.kind === 'PodDisruptionBudget'), 1)],
  ['dev', 'pdb', 'PDB selecting other pods', (d) => { d.find((x) => x.kind === 'PodDisruptionBudget').spec.selector.matchLabels = { app: 'other' }; }],
  ['prod', 'securityContext', 'readOnlyRootFilesystem off', (d) => { container(d).securityContext.readOnlyRootFilesystem = false; }],
  ['prod', 'securityContext', 'capabilities not dropped', (d) => { delete container(d).securityContext.capabilities; }],
  ['prod', 'securityContext', 'seccomp profile removed', (d) => { delete container(d).securityContext.seccompProfile; delete podSpec(d).securityContext.seccompProfile; }],
  ['dev', 'securityContext', 'runAsNonRoot removed', (d) => { delete container(d).securityContext.runAsNonRoot; delete podSpec(d).securityContext.runAsNonRoot; }],
  ['prod', 'securityContext', 'privilege escalation allowed', (d) => { container(d).securityContext.allowPrivilegeEscalation = true; }],
  ['prod', 'shutdown', 'grace period shorter than TXV_GRACE_PERIOD', (d) => { podSpec(d).terminationGracePeriodSeconds = 20; }],
  ['prod', 'shutdown', 'preStop removed', (d) => { delete container(d).lifecycle; }],
  ['prod', 'hpa', 'HPA capped at 10', (d) => { d.find((x) => x.kind === 'HorizontalPodAutoscaler').spec.maxReplicas = 10; }],
  ['prod', 'hpa', 'HPA without requests-per-second metric', (d) => { const h = d.find((x) => x.kind === 'HorizontalPodAutoscaler'); h.spec.metrics = h.spec.metrics.filter((m) => m.type !== 'Pods'); }],
  ['prod', 'topology', 'zone spreading removed', (d) => { delete podSpec(d).topologySpreadConstraints; }],
  ['prod', 'networkpolicy', 'egress to the Internet', (d) => { d.find((x) => x.kind === 'NetworkPolicy').spec.egress.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 443, protocol: 'TCP' }] }); }],
  ['prod', 'networkpolicy', 'ingress from anywhere', (d) => { d.find((x) => x.kind === 'NetworkPolicy').spec.ingress.push({ ports: [{ port: 8080, protocol: 'TCP' }] }); }],
  ['prod', 'ingress', 'HTTP listener added', (d) => { annotations(d)['alb.ingress.kubernetes.io/listen-ports'] = '[{"HTTP": 80}, {"HTTPS": 443}]'; }],
  ['prod', 'ingress', 'TLS 1.0 policy', (d) => { annotations(d)['alb.ingress.kubernetes.io/ssl-policy'] = 'ELBSecurityPolicy-2016-08'; }],
  ['prod', 'ingress', 'WAF not attached', (d) => { delete annotations(d)['alb.ingress.kubernetes.io/wafv2-acl-arn']; }],
  ['prod', 'ingress', '/metrics exposed through the ALB', (d) => { d.find((x) => x.kind === 'Ingress').spec.rules[0].http.paths[0].path = '/'; }],
  ['prod', 'serviceaccount', 'IRSA annotation removed', (d) => { delete d.find((x) => x.kind === 'ServiceAccount').metadata.annotations; }],
  ['prod', 'secrets', 'PAN key as an environment variable', (d) => { container(d).env.push({ name: 'TXV_PAN_KEY', value: 'x'.repeat(64) }); }],
  ['prod', 'secrets', 'database URL in clear', (d) => { container(d).env.find((e) => e.name === 'TXV_DATABASE_URL').valueFrom = undefined; container(d).env.find((e) => e.name === 'TXV_DATABASE_URL').value = 'postgres://u:p@h/db'; }],
  ['prod', 'secrets', 'Redis without TLS', (d) => { const t = d.find((x) => x.kind === 'ExternalSecret').spec.target.template.data; t['redis-url'] = t['redis-url'].replace('rediss://', 'redis://'); }],
  ['prod', 'alerts', 'cache error alert removed', (d) => { for (const g of d.find((x) => x.kind === 'PrometheusRule').spec.groups) g.rules = g.rules.filter((r) => r.alert !== 'TxvCacheErrors'); }],
  ['prod', 'helm-test', 'helm test hook removed', (d) => d.splice(d.findIndex((x) => x.kind === 'Pod'), 1)],
];

describe('policy catches each missing setting', () => {
  for (const [env, rule, what, mutate] of mutations) {
    test(`${env}: ${what} -> ${rule}`, () => {
      const docs = render(env);
      mutate(docs);
      const violations = checkPolicy(docs, env);
      assert.ok(violations.some((x) => x.startsWith(`${rule}:`)), `expected a ${rule} violation, got ${JSON.stringify(violations)}`);
    });
  }
});

test('schema validation catches a misspelled field', () => {
  const docs = render('prod');
  const c = container(docs);
  c.readinesProbe = c.readinessProbe;
  const problems = validateObject(docs.find((d) => d.kind === 'Deployment'));
  assert.ok(problems.some((p) => p.includes('readinesProbe: unknown field')), JSON.stringify(problems));
});

test('schema validation catches a wrong type', () => {
  const docs = render('prod');
  docs.find((d) => d.kind === 'HorizontalPodAutoscaler').spec.maxReplicas = 'twenty';
  const problems = validateObject(docs.find((d) => d.kind === 'HorizontalPodAutoscaler'));
  assert.ok(problems.some((p) => /maxReplicas must be integer/.test(p)), JSON.stringify(problems));
});

describe('cluster add-ons (deploy/addons)', () => {
  const files = listFiles(path.join(DEPLOY_DIR, 'addons'), (p) => p.endsWith('.yaml'));
  for (const f of files) {
    test(`${path.basename(f)} is well-formed YAML`, () => {
      const docs = parseManifests(fs.readFileSync(f, 'utf8'));
      assert.ok(docs.length > 0);
      for (const d of docs) {
        if (d.apiVersion && d.kind) assert.deepEqual(validateObject(d), []);
      }
    });
  }
  test('prometheus-adapter serves the metric the HPA scales on', () => {
    const adapter = parse(fs.readFileSync(path.join(DEPLOY_DIR, 'addons', 'prometheus-adapter-values.yaml'), 'utf8'));
    const hpa = render('prod').find((d) => d.kind === 'HorizontalPodAutoscaler');
    const metric = hpa.spec.metrics.find((m) => m.type === 'Pods').pods.metric.name;
    assert.ok(adapter.rules.custom.some((r) => r.name.as === metric), `adapter does not serve ${metric}`);
  });
});
