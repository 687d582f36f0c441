// Terraform, offline: every .tf file parsed with @cdktf/hcl2json; module interfaces and
// references checked like `terraform validate` would; the architecture asserted on the
// structure; the Helm values Terraform produces matched against the chart. The mutation tests
// show each check fails when its setting goes missing. (`terraform fmt`, `validate` and a
// mocked `terraform test` plan run from scripts/test-deploy.sh when a terraform binary and the
// AWS provider are available offline.)
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, ENVS, FIXTURES_DIR, REPO_DIR, TF_DIR } from './lib/paths.mjs';
import { checkArchitecture, checkReferences, envArgs, keyPaths, loadTree, parseTfvarsLike } from './lib/terraform.mjs';

let tree;
before(async () => {
  tree = await loadTree();
});
const copy = () => structuredClone(tree);

test('every .tf file parses and the expected modules exist', () => {
  const dirs = Object.keys(tree);
  for (const m of ['network', 'eks', 'aurora', 'redis', 'waf', 'secrets', 'observability', 'cloudtrail', 'certificate', 'ci', 'stack']) {
    assert.ok(dirs.includes(`modules/${m}`), `modules/${m} missing`);
  }
  for (const env of ENVS) assert.ok(dirs.includes(`envs/${env}`), `envs/${env} missing`);
});

test('module interfaces and references resolve (terraform validate, offline subset)', () => {
  assert.deepEqual(checkReferences(tree), []);
});

test('architecture policy holds', () => {
  assert.deepEqual(checkArchitecture(tree), []);
});

for (const env of ENVS) {
  test(`${env}: terraform.tfvars.example sets every required variable`, async () => {
    const example = await parseTfvarsLike(fs.readFileSync(path.join(TF_DIR, 'envs', env, 'terraform.tfvars.example'), 'utf8'));
    const required = Object.entries(tree[`envs/${env}`].variable).filter(([, d]) => !('default' in d)).map(([n]) => n);
    assert.deepEqual(required.filter((n) => !(n in example)), []);
    for (const n of Object.keys(example)) assert.ok(tree[`envs/${env}`].variable[n], `${n} is not a variable of envs/${env}`);
  });

  test(`${env}: Terraform's Helm values have exactly the keys of the fixture the chart tests use`, () => {
    const produced = keyPaths(Object.assign({}, ...tree['modules/stack'].locals).helm_values);
    const fixture = keyPaths(parse(fs.readFileSync(path.join(FIXTURES_DIR, `tf-values-${env}.yaml`), 'utf8')));
    assert.deepEqual(produced, fixture);
  });
}

test('every key Terraform hands to Helm is a value the chart declares', () => {
  const chart = new Set(keyPaths(parse(fs.readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8'))));
  const produced = keyPaths(Object.assign({}, ...tree['modules/stack'].locals).helm_values);
  assert.deepEqual(produced.filter((k) => !chart.has(k)), []);
});

test('the cost table names every instance type the environments use', () => {
  const cost = fs.readFileSync(path.join(REPO_DIR, 'docs', 'operations', 'cost.md'), 'utf8');
  for (const env of ENVS) {
    const a = envArgs(tree, env);
    for (const t of [...a.node_instance_types, a.aurora_instance_class, a.redis_node_type]) {
      assert.ok(cost.includes(t), `docs/operations/cost.md does not price ${env}'s ${t}`);
    }
  }
});

describe('checks catch each missing setting', () => {
  const cases = [
    ['aurora', 'storage encryption off', (t) => { t['modules/aurora'].resource.aws_rds_cluster.this.storage_encrypted = false; }],
    ['aurora', 'backups kept 1 day', (t) => { t['modules/stack'].module.aurora.backup_retention_days = 1; }],
    ['aurora', 'rds.force_ssl removed', (t) => { const p = t['modules/aurora'].resource.aws_rds_cluster_parameter_group.this; p.parameter = p.parameter.filter((x) => x.name !== 'rds.force_ssl'); }],
    ['aurora', 'PostgreSQL open to a CIDR', (t) => { Object.values(t['modules/aurora'].resource.aws_vpc_security_group_ingress_rule)[0].cidr_ipv4 = '0.0.0.0/0'; }],
    ['redis', 'TLS in transit off', (t) => { t['modules/redis'].resource.aws_elasticache_replication_group.this.transit_encryption_enabled = false; }],
    ['redis', 'no automatic failover', (t) => { t['modules/redis'].resource.aws_elasticache_replication_group.this.automatic_failover_enabled = false; }],
    ['envs', 'prod Redis on one node', (t) => { t['envs/prod'].module.txv.redis_node_count = 1; }],
    ['envs', 'prod with one NAT gateway', (t) => { t['envs/prod'].module.txv.single_nat_gateway = true; }],
    ['envs', 'prod Aurora deletable', (t) => { t['envs/prod'].module.txv.aurora_deletion_protection = false; }],
    ['network', 'two AZs', (t) => { t['envs/dev'].module.txv.azs = ['us-east-1a', 'us-east-1b']; }],
    ['network', 'overlapping subnets', (t) => { t['envs/prod'].module.txv.database_subnet_cidrs[0] = '10.0.96.0/24'; }],
    ['network', 'subnet outside the VPC', (t) => { t['envs/prod'].module.txv.public_subnet_cidrs[2] = '10.1.0.0/22'; }],
    ['network', 'flow logs only for rejected traffic', (t) => { t['modules/network'].resource.aws_flow_log.this.traffic_type = 'REJECT'; }],
    ['eks', 'x86 nodes', (t) => { t['envs/prod'].module.txv.node_instance_types = ['m7i.xlarge']; }],
    ['eks', 'IMDSv1 allowed', (t) => { t['modules/eks'].resource.aws_launch_template.node.metadata_options[0].http_tokens = 'optional'; }],
    ['waf', 'SQLi rules removed', (t) => { const l = t['modules/waf'].locals.find((x) => x.managed_rule_groups); l.managed_rule_groups = l.managed_rule_groups.filter((g) => !/SQLi/.test(g.name)); }],
    ['waf', 'ALB controller cannot associate the ACL', (t) => { t['modules/eks'].data.aws_iam_policy_document.alb_controller.statement = []; }],
    ['observability', 'replica lag alarm removed', (t) => { delete t['modules/observability'].resource.aws_cloudwatch_metric_alarm.aurora_replica_lag; }],
    ['observability', 'log group without retention', (t) => { delete t['modules/network'].resource.aws_cloudwatch_log_group.flow_logs.retention_in_days; }],
    ['cloudtrail', 'log file validation off', (t) => { t['modules/cloudtrail'].resource.aws_cloudtrail.this.enable_log_file_validation = false; }],
    ['state', 'unencrypted state', (t) => { t['envs/prod'].terraform[0][0].backend.s3[0].encrypt = false; }],
  ];
  for (const [rule, what, mutate] of cases) {
    test(`${what} -> ${rule}`, () => {
      const t = copy();
      mutate(t);
      const violations = checkArchitecture(t);
      assert.ok(violations.some((x) => x.startsWith(`${rule}:`)), `expected a ${rule} violation, got ${JSON.stringify(violations)}`);
    });
  }

  const refCases = [
    ['undeclared variable', (t) => { t['modules/redis'].resource.aws_elasticache_replication_group.this.node_type = '${var.node_size}'; }, /var\.node_size is not declared/],
    ['unknown module argument', (t) => { t['modules/stack'].module.redis.node_typ = 'x'; }, /passes node_typ/],
    ['missing module argument', (t) => { delete t['modules/stack'].module.waf.rate_limit_per_5m; }, /misses required variable rate_limit_per_5m/],
    ['unknown module output', (t) => { t['modules/stack'].module.aurora.vpc_id = '${module.network.vpc}'; }, /module\.network\.vpc is not an output/],
    ['undeclared resource', (t) => { t['modules/aurora'].resource.aws_rds_cluster.this.kms_key_id = '${aws_kms_key.aurora.arn}'; }, /aws_kms_key\.aurora is not declared/],
  ];
  for (const [what, mutate, expected] of refCases) {
    test(`${what} -> references`, () => {
      const t = copy();
      mutate(t);
      assert.match(checkReferences(t).join('\n'), expected);
    });
  }
});
