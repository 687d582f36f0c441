// Parses the Terraform tree with @cdktf/hcl2json (HCL -> JSON, offline) and provides the
// checks scripts/test-deploy.sh can run without `terraform init`: module interfaces and
// references (a subset of `terraform validate`), and the architecture policy.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { DEPLOY_DIR, TF_DIR, listFiles } from './paths.mjs';

const require = createRequire(path.join(DEPLOY_DIR, 'package.json'));
const hcl2json = require('@cdktf/hcl2json');

const BLOCKS = ['resource', 'data', 'variable', 'output', 'locals', 'module', 'terraform', 'provider'];

// { "<dir relative to deploy/terraform>": { files: [...], resource: {...}, data: {...}, ... } }
export async function loadTree() {
  const tree = {};
  for (const file of listFiles(TF_DIR, (p) => p.endsWith('.tf'))) {
    const dir = path.relative(TF_DIR, path.dirname(file));
    const mod = (tree[dir] ||= { files: [], locals: [] });
    mod.files.push(path.basename(file));
    let parsed;
    try {
      parsed = await hcl2json.parse(path.basename(file), fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${path.relative(DEPLOY_DIR, file)}: ${e.message}`);
    }
    for (const [block, body] of Object.entries(parsed)) {
      if (!BLOCKS.includes(block)) throw new Error(`${file}: unexpected top-level block ${block}`);
      if (block === 'locals') mod.locals.push(...body);
      else if (block === 'terraform' || block === 'provider') (mod[block] ||= []).push(body);
      else {
        mod[block] ||= {};
        for (const [k, v] of Object.entries(body)) {
          if (block === 'resource' || block === 'data') {
            mod[block][k] ||= {};
            for (const [name, inst] of Object.entries(v)) {
              if (mod[block][k][name]) throw new Error(`${dir}: duplicate ${block} ${k}.${name}`);
              mod[block][k][name] = inst[0];
            }
          } else {
            if (mod[block][k]) throw new Error(`${dir}: duplicate ${block} ${k}`);
            mod[block][k] = v[0];
          }
        }
      }
    }
  }
  return tree;
}

export function parseTfvarsLike(text) {
  return hcl2json.parse('x.tfvars', text);
}

// All strings in a JSON value (keys included), for reference scanning.
function strings(value, out = []) {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  }
  return out;
}

const localsOf = (mod) => Object.assign({}, ...mod.locals);
const resolveSource = (dir, source) => path.normalize(path.join(dir, source));

// Interface and reference checks; returns violations.
export function checkReferences(tree) {
  const v = [];
  for (const [dir, mod] of Object.entries(tree)) {
    const vars = mod.variable || {};
    const outputs = mod.output || {};
    const locals = localsOf(mod);
    const modules = mod.module || {};
    for (const [name, def] of Object.entries(vars)) {
      if (!def.description) v.push(`${dir}: variable ${name} has no description`);
      if (!def.type) v.push(`${dir}: variable ${name} has no type`);
    }
    for (const [name, def] of Object.entries(outputs)) {
      if (!def.description) v.push(`${dir}: output ${name} has no description`);
    }
    for (const [name, call] of Object.entries(modules)) {
      const target = tree[resolveSource(dir, call.source)];
      if (!target) {
        v.push(`${dir}: module ${name} has unknown source ${call.source}`);
        continue;
      }
      const meta = new Set(['source', 'version', 'providers', 'depends_on', 'count', 'for_each']);
      for (const arg of Object.keys(call)) {
        if (!meta.has(arg) && !(target.variable || {})[arg]) v.push(`${dir}: module ${name} passes ${arg}, which ${call.source} does not declare`);
      }
      for (const [tv, def] of Object.entries(target.variable || {})) {
        if (!('default' in def) && !(tv in call)) v.push(`${dir}: module ${name} misses required variable ${tv}`);
      }
    }
    const text = strings({ resource: mod.resource, data: mod.data, output: mod.output, locals: mod.locals, module: mod.module, provider: mod.provider, variable: mod.variable });
    for (const s of text) {
      for (const [, name] of s.matchAll(/\bvar\.([A-Za-z0-9_-]+)/g)) if (!vars[name]) v.push(`${dir}: var.${name} is not declared`);
      for (const [, name] of s.matchAll(/\blocal\.([A-Za-z0-9_-]+)/g)) if (!(name in locals)) v.push(`${dir}: local.${name} is not declared`);
      for (const [, m, out] of s.matchAll(/\bmodule\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)/g)) {
        const call = modules[m];
        if (!call) v.push(`${dir}: module.${m} is not declared`);
        else if (!(tree[resolveSource(dir, call.source)]?.output || {})[out]) v.push(`${dir}: module.${m}.${out} is not an output of ${call.source}`);
      }
      for (const [, type, name] of s.matchAll(/\bdata\.([a-z0-9_]+)\.([A-Za-z0-9_-]+)/g)) {
        if (!mod.data?.[type]?.[name]) v.push(`${dir}: data.${type}.${name} is not declared`);
      }
      for (const [, type, name] of s.matchAll(/(?<![\w.])(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)/g)) {
        if (!mod.resource?.[type]?.[name]) v.push(`${dir}: ${type}.${name} is not declared`);
      }
    }
  }
  return [...new Set(v)];
}

// ---- architecture policy ------------------------------------------------------------------

const lit = (x) => (typeof x === 'string' && x.startsWith('${') ? undefined : x);

function ipv4ToInt(ip) {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}
export function cidrRange(cidr) {
  const [ip, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = ipv4ToInt(ip);
  if (start % size !== 0) throw new Error(`${cidr} is not aligned`);
  return [start, start + size - 1];
}

export function envArgs(tree, env) {
  return tree[`envs/${env}`]?.module?.txv || {};
}

export function checkArchitecture(tree) {
  const v = [];
  const bad = (rule, msg) => v.push(`${rule}: ${msg}`);
  const m = (name) => tree[`modules/${name}`] || {};
  const res = (mod, type, name) => m(mod).resource?.[type]?.[name];
  const envs = { dev: envArgs(tree, 'dev'), prod: envArgs(tree, 'prod') };

  for (const [env, a] of Object.entries(envs)) {
    if (a.source !== '../../modules/stack') bad('envs', `${env} must call modules/stack`);
    // Network: 10.0.0.0/16, three AZs, three tiers, no overlaps.
    if (a.vpc_cidr !== '10.0.0.0/16') bad('network', `${env} VPC must be 10.0.0.0/16`);
    if (!Array.isArray(a.azs) || a.azs.length !== 3 || new Set(a.azs).size !== 3) bad('network', `${env} needs three distinct AZs`);
    const tiers = ['public_subnet_cidrs', 'private_subnet_cidrs', 'database_subnet_cidrs'];
    const ranges = [];
    for (const t of tiers) {
      if (!Array.isArray(a[t]) || a[t].length !== 3) {
        bad('network', `${env} ${t} must list one subnet per AZ`);
        continue;
      }
      for (const c of a[t]) {
        try {
          ranges.push([c, ...cidrRange(c)]);
        } catch (e) {
          bad('network', `${env} ${e.message}`);
        }
      }
    }
    if (a.vpc_cidr === '10.0.0.0/16') {
      const [vs, ve] = cidrRange(a.vpc_cidr);
      for (const [c, s, e] of ranges) if (s < vs || e > ve) bad('network', `${env} subnet ${c} outside the VPC`);
    }
    for (let i = 0; i < ranges.length; i++) {
      for (let j = i + 1; j < ranges.length; j++) {
        if (ranges[i][1] <= ranges[j][2] && ranges[j][1] <= ranges[i][2]) bad('network', `${env} subnets ${ranges[i][0]} and ${ranges[j][0]} overlap`);
      }
    }
    if (a.kubernetes_version !== '1.28') bad('eks', `${env} must run EKS 1.28`);
    for (const t of a.node_instance_types || []) if (!/^[a-z]+\d+g[a-z]*\./.test(t)) bad('eks', `${env} node type ${t} is not Graviton`);
    if (!(a.aurora_instance_count >= 2)) bad('aurora', `${env} needs a writer and a reader`);
    if (typeof a.single_nat_gateway !== 'boolean') bad('network', `${env} single_nat_gateway must be a literal`);
  }

  // Dev/prod differences.
  const { dev, prod } = envs;
  if (dev.single_nat_gateway !== true) bad('envs', 'dev uses one NAT gateway');
  if (prod.single_nat_gateway !== false) bad('envs', 'prod has a NAT gateway per AZ');
  if (prod.aurora_deletion_protection !== true) bad('envs', 'prod Aurora has deletion protection');
  if (dev.aurora_deletion_protection !== false) bad('envs', 'dev Aurora can be deleted with the environment');
  if (!(prod.redis_node_count >= 2)) bad('envs', 'prod Redis is Multi-AZ (2+ nodes)');
  if (prod.node_group_per_az !== true) bad('envs', 'prod has a node group per AZ');
  if (!/^db\.r\d+g\./.test(prod.aurora_instance_class || '')) bad('envs', 'prod Aurora runs on r6g/r7g');
  if (!/^cache\.r\d+g\./.test(prod.redis_node_type || '')) bad('envs', 'prod Redis runs on r6g/r7g');
  if (!/^db\.t4g\./.test(dev.aurora_instance_class || '')) bad('envs', 'dev Aurora runs on t4g');
  if (!/^cache\.t4g\./.test(dev.redis_node_type || '')) bad('envs', 'dev Redis runs on t4g');
  if (!(prod.audit_log_retention_days >= 365)) bad('envs', 'prod keeps audit logs a year (PCI DSS 10.5.1)');
  if (!(prod.log_retention_days >= dev.log_retention_days)) bad('envs', 'prod keeps logs at least as long as dev');

  // Remote state encrypted, in both environments.
  for (const env of ['dev', 'prod']) {
    const backend = (tree[`envs/${env}`]?.terraform || []).flatMap((t) => t).map((t) => t.backend?.s3?.[0]).find(Boolean);
    if (!backend || backend.encrypt !== true) bad('state', `${env} state must be in S3 with encrypt = true`);
    if (backend && backend.use_lockfile !== true) bad('state', `${env} state must be locked`);
  }

  // Every module pins the AWS provider below the next major version.
  for (const [dir, mod] of Object.entries(tree)) {
    if (dir === 'tests') continue;
    const rp = (mod.terraform || []).flatMap((t) => t).flatMap((t) => t.required_providers || []).find((x) => x.aws);
    if (!rp || !/< 6\.0/.test(rp.aws.version || '')) bad('versions', `${dir} must pin hashicorp/aws below 6.0`);
  }

  // network
  const nat = res('network', 'aws_nat_gateway', 'this');
  if (!nat || !/single_nat_gateway/.test(JSON.stringify(m('network').locals)) || nat.count !== '${local.nat_count}') bad('network', 'NAT gateways must follow single_nat_gateway');
  for (const tier of ['public', 'private', 'database']) {
    if (res('network', 'aws_subnet', tier)?.count !== '${length(var.azs)}') bad('network', `one ${tier} subnet per AZ`);
  }
  if (res('network', 'aws_subnet', 'public')?.map_public_ip_on_launch !== false) bad('network', 'public subnets must not hand out public IPs');
  if (res('network', 'aws_flow_log', 'this')?.traffic_type !== 'ALL') bad('network', 'VPC flow logs must record ALL traffic');
  const routes = m('network').resource?.aws_route || {};
  for (const r of Object.values(routes)) if (/database/.test(r.route_table_id)) bad('network', 'database subnets must have no route out of the VPC');
  if (!res('network', 'aws_default_security_group', 'this')) bad('network', 'default security group must be emptied');

  // eks
  const cluster = res('eks', 'aws_eks_cluster', 'this');
  if (m('eks').variable?.kubernetes_version?.default !== '1.28') bad('eks', 'kubernetes_version defaults to 1.28');
  if (!cluster?.encryption_config?.[0]?.resources?.includes('secrets')) bad('eks', 'Kubernetes secrets must be envelope-encrypted with KMS');
  if (!(cluster?.enabled_cluster_log_types || []).includes('audit')) bad('eks', 'control-plane audit logs must be on');
  if (!res('eks', 'aws_iam_openid_connect_provider', 'this')) bad('eks', 'OIDC provider for IRSA missing');
  const irsa = Object.assign({}, ...(m('eks').locals || [])).irsa || {};
  for (const r of ['txv', 'cluster-autoscaler', 'aws-load-balancer-controller']) if (!irsa[r]) bad('eks', `IRSA role ${r} missing`);
  const ng = res('eks', 'aws_eks_node_group', 'this');
  if (!/ARM_64/.test(ng?.ami_type || '')) bad('eks', 'node groups must use an arm64 (Graviton) AMI');
  const lt = res('eks', 'aws_launch_template', 'node');
  if (lt?.metadata_options?.[0]?.http_tokens !== 'required' || lt?.metadata_options?.[0]?.http_put_response_hop_limit !== 1) bad('eks', 'nodes must require IMDSv2 with hop limit 1');
  if (lt?.block_device_mappings?.[0]?.ebs?.[0]?.encrypted !== true) bad('eks', 'node volumes must be encrypted');
  if (!/enableNetworkPolicy/.test(res('eks', 'aws_eks_addon', 'vpc_cni')?.configuration_values || '')) bad('eks', 'VPC CNI must enforce NetworkPolicy');
  const albPolicy = JSON.stringify(m('eks').data?.aws_iam_policy_document?.alb_controller || {});
  if (!albPolicy.includes('wafv2:AssociateWebACL')) bad('waf', 'the ALB controller must be allowed to associate the web ACL');

  // aurora
  const rds = res('aurora', 'aws_rds_cluster', 'this');
  if (rds?.engine !== 'aurora-postgresql') bad('aurora', 'engine must be aurora-postgresql');
  if (rds?.storage_encrypted !== true || rds?.kms_key_id !== '${aws_kms_key.this.arn}') bad('aurora', 'storage must be encrypted with the module\'s CMK');
  if (!res('aurora', 'aws_kms_key', 'this')?.enable_key_rotation) bad('aurora', 'CMK rotation must be on');
  if (rds?.backup_retention_period !== '${var.backup_retention_days}' || m('aurora').variable?.backup_retention_days?.default !== 7) bad('aurora', 'backups must be kept 7 days');
  if (m('stack').module?.aurora?.backup_retention_days !== 7) bad('aurora', 'the stack must keep 7 days of backups');
  if (rds?.deletion_protection !== '${var.deletion_protection}') bad('aurora', 'deletion protection must follow the environment');
  const pg = res('aurora', 'aws_rds_cluster_parameter_group', 'this');
  if (!(pg?.parameter || []).some((p) => p.name === 'rds.force_ssl' && p.value === '1')) bad('aurora', 'rds.force_ssl must be 1');
  const inst = res('aurora', 'aws_rds_cluster_instance', 'this');
  if (!/count\.index %/.test(inst?.availability_zone || '')) bad('aurora', 'instances must be spread over the AZs');
  if (inst?.publicly_accessible !== false) bad('aurora', 'instances must not be publicly accessible');
  const pgIngress = m('aurora').resource?.aws_vpc_security_group_ingress_rule || {};
  for (const r of Object.values(pgIngress)) if (r.cidr_ipv4 || r.cidr_ipv6 || !r.referenced_security_group_id) bad('aurora', 'PostgreSQL only from the node security group');
  if (m('stack').module?.aurora?.allowed_security_group_ids?.[0] !== '${module.eks.cluster_security_group_id}') bad('aurora', 'Aurora must admit the EKS nodes\' security group');

  // redis
  const rg = res('redis', 'aws_elasticache_replication_group', 'this');
  if (rg?.at_rest_encryption_enabled !== true || !rg?.kms_key_id) bad('redis', 'encryption at rest with a CMK');
  if (rg?.transit_encryption_enabled !== true || rg?.transit_encryption_mode !== 'required') bad('redis', 'TLS in transit must be required');
  if (!/aws_secretsmanager_secret_version/.test(rg?.auth_token || '')) bad('redis', 'AUTH token must come from Secrets Manager');
  if (rg?.multi_az_enabled !== '${local.replicated}' || rg?.automatic_failover_enabled !== '${local.replicated}') bad('redis', 'Multi-AZ and automatic failover with replicas');
  if (Object.assign({}, ...(m('redis').locals || [])).replicated !== '${var.node_count > 1}') bad('redis', 'replicated means more than one node');
  for (const r of Object.values(m('redis').resource?.aws_vpc_security_group_ingress_rule || {})) if (r.cidr_ipv4 || !r.referenced_security_group_id) bad('redis', 'Redis only from the node security group');

  // waf
  const acl = res('waf', 'aws_wafv2_web_acl', 'this');
  if (acl?.scope !== 'REGIONAL') bad('waf', 'web ACL must be REGIONAL (ALB)');
  const groups = (Object.assign({}, ...(m('waf').locals || [])).managed_rule_groups || []).map((g) => g.name);
  for (const g of ['AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet', 'AWSManagedRulesSQLiRuleSet', 'AWSManagedRulesAmazonIpReputationList']) {
    if (!groups.includes(g)) bad('waf', `managed rule group ${g} missing`);
  }
  if (!JSON.stringify(acl?.rule || []).includes('rate_based_statement')) bad('waf', 'rate-based rule missing');
  if (!JSON.stringify(res('waf', 'aws_wafv2_web_acl_logging_configuration', 'this') || {}).includes('authorization')) bad('waf', 'WAF logs must redact the Authorization header');

  // secrets
  const secretNames = Object.assign({}, ...(m('secrets').locals || [])).secrets || {};
  for (const s of ['database', 'redis', 'pan-key']) if (!secretNames[s]) bad('secrets', `secret ${s} missing`);
  if (res('secrets', 'aws_secretsmanager_secret', 'this')?.kms_key_id !== '${aws_kms_key.this.arn}') bad('secrets', 'secrets must use the module\'s CMK');
  if (res('secrets', 'aws_secretsmanager_secret_version', 'pan_key')) bad('secrets', 'the PAN key must not be generated by Terraform (it would sit in the state)');

  // observability
  const alarms = m('observability').resource?.aws_cloudwatch_metric_alarm || {};
  const metricNames = JSON.stringify(alarms);
  for (const metric of ['HTTPCode_Target_5XX_Count', 'CPUUtilization', 'DatabaseConnections', 'AuroraReplicaLagMaximum', 'EngineCPUUtilization', 'DatabaseMemoryUsagePercentage', 'Evictions']) {
    if (!metricNames.includes(`"${metric}"`)) bad('observability', `no alarm on ${metric}`);
  }
  for (const [name, a] of Object.entries(alarms)) if (a.alarm_actions !== '${local.actions}') bad('observability', `alarm ${name} must notify the SNS topic`);
  if (!res('observability', 'aws_sns_topic', 'alarms')?.kms_master_key_id) bad('observability', 'alarm topic must be encrypted');
  for (const [dir, mod] of Object.entries(tree)) {
    for (const [name, lg] of Object.entries(mod.resource?.aws_cloudwatch_log_group || {})) {
      if (lg.retention_in_days === undefined) bad('observability', `${dir} log group ${name} without retention`);
      if (!lg.kms_key_id) bad('observability', `${dir} log group ${name} not encrypted with a CMK`);
    }
  }

  // cloudtrail
  const trail = res('cloudtrail', 'aws_cloudtrail', 'this');
  if (trail?.is_multi_region_trail !== true || trail?.enable_log_file_validation !== true || !trail?.kms_key_id) bad('cloudtrail', 'multi-region, validated, KMS-encrypted trail required');
  const pab = res('cloudtrail', 'aws_s3_bucket_public_access_block', 'this');
  if (!pab || ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets'].some((k) => pab[k] !== true)) bad('cloudtrail', 'trail bucket must block public access');

  // TLS at the edge and the stack's wiring.
  if (res('certificate', 'aws_acm_certificate', 'this')?.validation_method !== 'DNS') bad('tls', 'ACM certificate validated through DNS');
  const stackModules = Object.keys(m('stack').module || {});
  for (const box of ['network', 'eks', 'aurora', 'redis', 'waf', 'secrets', 'observability', 'cloudtrail', 'certificate', 'ci']) {
    if (!stackModules.includes(box)) bad('stack', `the stack does not use module ${box}`);
  }
  return v;
}

// Nested key structure of an object, as sorted dotted paths.
export function keyPaths(obj, prefix = '') {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return [prefix];
  return Object.keys(obj).sort().flatMap((k) => keyPaths(obj[k], prefix ? `${prefix}.${k}` : k));
}
