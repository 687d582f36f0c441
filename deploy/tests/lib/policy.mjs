// Deployment policy for the rendered chart. checkPolicy() returns violations as
// "<rule>: <message>" strings; the tests assert that the real render has none and that each
// mutation of it (a probe, a limit, a PDB, a securityContext setting going missing...) has one.

export const REQUIRED_ALERTS = [
  'TxvHigh5xxRatio', 'TxvHighP99Latency', 'TxvDeclineRatioAnomaly',
  'TxvCacheErrors', 'TxvCacheDegraded', 'TxvDbPoolSaturation', 'TxvPodsNotReady',
];
// TLS 1.2+ ALB policies (no TLS 1.0/1.1). https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
export const TLS12_POLICIES = [
  'ELBSecurityPolicy-TLS13-1-2-2021-06', 'ELBSecurityPolicy-TLS13-1-2-Res-2021-06',
  'ELBSecurityPolicy-TLS13-1-3-2021-06', 'ELBSecurityPolicy-TLS-1-2-2017-01',
  'ELBSecurityPolicy-TLS-1-2-Ext-2018-06', 'ELBSecurityPolicy-FS-1-2-Res-2020-10',
  'ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04', 'ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04',
];
const APP_PORT = 8080;
const ALLOWED_EGRESS_PORTS = new Set([53, 5432, 6379]);

const byKind = (docs, kind) => docs.filter((d) => d.kind === kind);
const one = (docs, kind) => {
  const found = byKind(docs, kind).filter((d) => !d.metadata?.annotations?.['helm.sh/hook']);
  return found.length === 1 ? found[0] : undefined;
};
const isHook = (d) => Boolean(d.metadata?.annotations?.['helm.sh/hook']);
const selectorMatches = (selector, labels) =>
  Object.entries(selector?.matchLabels || {}).every(([k, v]) => labels?.[k] === v) &&
  Object.keys(selector?.matchLabels || {}).length > 0;

function seconds(v) {
  const m = /^(\d+)s$/.exec(String(v ?? ''));
  return m ? Number(m[1]) : NaN;
}

// Every pod template in the render: the Deployment's and the helm test Pod's.
function podSpecs(docs) {
  const out = [];
  for (const d of docs) {
    if (d.kind === 'Deployment') out.push([`Deployment/${d.metadata.name}`, d.spec?.template?.spec]);
    if (d.kind === 'Pod') out.push([`Pod/${d.metadata.name}`, d.spec]);
  }
  return out;
}

export function checkPolicy(docs, env) {
  const v = [];
  const bad = (rule, msg) => v.push(`${rule}: ${msg}`);

  const dep = one(docs, 'Deployment');
  if (!dep) {
    bad('deployment', 'exactly one Deployment expected');
    return v;
  }
  const pod = dep.spec?.template?.spec || {};
  const podLabels = dep.spec?.template?.metadata?.labels || {};
  const c = (pod.containers || []).find((x) => x.name === 'txv');
  if (!c) {
    bad('deployment', 'no container named txv');
    return v;
  }
  const env_ = Object.fromEntries((c.env || []).map((e) => [e.name, e]));
  const httpPort = (c.ports || []).find((p) => p.name === 'http');
  if (!httpPort || httpPort.containerPort !== APP_PORT) bad('deployment', `container port "http" must be ${APP_PORT}`);
  if (env_.TXV_LISTEN?.value !== `0.0.0.0:${APP_PORT}`) bad('deployment', `TXV_LISTEN must be 0.0.0.0:${APP_PORT}`);
  if (!selectorMatches(dep.spec?.selector, podLabels)) bad('deployment', 'selector does not match the pod labels');
  if (/:latest$/.test(c.image) || !/[:@]/.test(c.image.split('/').pop())) bad('deployment', `image must be pinned: ${c.image}`);
  if (dep.spec?.strategy?.rollingUpdate?.maxUnavailable !== 0) bad('deployment', 'rolling updates must not reduce capacity (maxUnavailable: 0)');

  // Probes
  const probes = { startupProbe: '/startupz', livenessProbe: '/livez', readinessProbe: '/readyz' };
  for (const [name, path] of Object.entries(probes)) {
    const p = c[name];
    if (!p) bad('probes', `${name} missing`);
    else if (p.httpGet?.path !== path || !['http', APP_PORT].includes(p.httpGet?.port)) bad('probes', `${name} must GET ${path} on the app port`);
    else if (!(p.periodSeconds > 0 && p.failureThreshold > 0 && p.timeoutSeconds > 0)) bad('probes', `${name} needs periodSeconds, failureThreshold and timeoutSeconds`);
  }
  if (c.livenessProbe?.httpGet?.path === '/readyz') bad('probes', 'liveness must not use /readyz (a database outage would restart every pod)');

  // Resources on every container of every pod (requests and limits, cpu and memory).
  for (const [where, spec] of podSpecs(docs)) {
    for (const ctr of [...(spec?.initContainers || []), ...(spec?.containers || [])]) {
      for (const kind of ['requests', 'limits']) {
        for (const r of ['cpu', 'memory']) {
          if (ctr.resources?.[kind]?.[r] === undefined) bad('resources', `${where} container ${ctr.name}: ${kind}.${r} missing`);
        }
      }
    }
  }

  // securityContext on every pod and container.
  for (const [where, spec] of podSpecs(docs)) {
    const psc = spec?.securityContext || {};
    if (spec?.hostNetwork || spec?.hostPID || spec?.hostIPC) bad('securityContext', `${where}: host namespaces`);
    if (spec?.automountServiceAccountToken !== false) bad('securityContext', `${where}: automountServiceAccountToken must be false`);
    for (const ctr of [...(spec?.initContainers || []), ...(spec?.containers || [])]) {
      const sc = ctr.securityContext || {};
      const w = `${where} container ${ctr.name}`;
      if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) bad('securityContext', `${w}: runAsNonRoot must be true`);
      const uid = sc.runAsUser ?? psc.runAsUser;
      if (!(Number.isInteger(uid) && uid > 0)) bad('securityContext', `${w}: runAsUser must be a non-zero numeric uid`);
      if (sc.readOnlyRootFilesystem !== true) bad('securityContext', `${w}: readOnlyRootFilesystem must be true`);
      if (sc.allowPrivilegeEscalation !== false) bad('securityContext', `${w}: allowPrivilegeEscalation must be false`);
      if (sc.privileged === true) bad('securityContext', `${w}: privileged`);
      if (!(sc.capabilities?.drop || []).includes('ALL')) bad('securityContext', `${w}: capabilities must drop ALL`);
      if ((sc.capabilities?.add || []).length) bad('securityContext', `${w}: capabilities added`);
      if ((sc.seccompProfile?.type ?? psc.seccompProfile?.type) !== 'RuntimeDefault') bad('securityContext', `${w}: seccompProfile must be RuntimeDefault`);
    }
  }

  // Shutdown (api-v1.md section 8): preStop, drain delay, grace period, ALB deregistration.
  const drain = seconds(env_.TXV_DRAIN_DELAY?.value);
  const grace = seconds(env_.TXV_GRACE_PERIOD?.value);
  const pre = c.lifecycle?.preStop?.exec?.command;
  const preSleep = Array.isArray(pre) && pre[0] === '/bin/sleep' ? Number(pre[1]) : NaN;
  const tgps = pod.terminationGracePeriodSeconds;
  if (!Number.isFinite(drain) || !Number.isFinite(grace)) bad('shutdown', 'TXV_DRAIN_DELAY and TXV_GRACE_PERIOD must be set as <n>s');
  else if (drain >= grace) bad('shutdown', `TXV_DRAIN_DELAY (${drain}s) must be shorter than TXV_GRACE_PERIOD (${grace}s)`);
  if (!Number.isFinite(preSleep)) bad('shutdown', 'preStop must be ["/bin/sleep", "<seconds>"]');
  if (!(Number.isInteger(tgps) && tgps >= (preSleep || 0) + (grace || 0) + 1)) {
    bad('shutdown', `terminationGracePeriodSeconds (${tgps}) must exceed preStop (${preSleep}s) + TXV_GRACE_PERIOD (${grace}s)`);
  }

  // Secrets: never literal values; PAN key as a file from a Secret.
  for (const name of ['TXV_DATABASE_URL', 'TXV_DATABASE_READ_URL', 'TXV_REDIS_URL']) {
    if (!env_[name]?.valueFrom?.secretKeyRef) bad('secrets', `${name} must come from a Secret`);
  }
  if (env_.TXV_PAN_KEY) bad('secrets', 'the PAN key must be a file (TXV_PAN_KEY_FILE), not an environment variable');
  const panFile = env_.TXV_PAN_KEY_FILE?.value;
  const panMount = (c.volumeMounts || []).find((m) => panFile && panFile.startsWith(`${m.mountPath}/`));
  const panVol = panMount && (pod.volumes || []).find((x) => x.name === panMount.name);
  if (!panFile || !panVol?.secret || panMount.readOnly !== true) bad('secrets', 'TXV_PAN_KEY_FILE must point into a read-only Secret volume');
  for (const e of c.env || []) {
    if (typeof e.value === 'string' && /(postgres(ql)?|rediss?):\/\/[^/]*@/.test(e.value)) bad('secrets', `${e.name} holds credentials in clear`);
  }
  const secretName = env_.TXV_DATABASE_URL?.valueFrom?.secretKeyRef?.name;
  const ext = byKind(docs, 'ExternalSecret').find((x) => x.spec?.target?.name === secretName);
  const store = one(docs, 'SecretStore');
  if (!ext) bad('secrets', `no ExternalSecret produces the Secret ${secretName}`);
  else {
    const tpl = ext.spec?.target?.template?.data || {};
    for (const k of ['database-url', 'database-read-url', 'redis-url', 'pan-key']) if (!tpl[k]) bad('secrets', `ExternalSecret lacks key ${k}`);
    if (!/^rediss:\/\//.test(tpl['redis-url'] || '')) bad('secrets', 'Redis must be reached over TLS (rediss://)');
    if (!/sslmode=(require|verify-ca|verify-full)/.test(tpl['database-url'] || '')) bad('secrets', 'PostgreSQL must require TLS (sslmode)');
    if (ext.spec?.secretStoreRef?.name !== store?.metadata?.name) bad('secrets', 'ExternalSecret must use the chart\'s SecretStore');
  }
  const sa = one(docs, 'ServiceAccount');
  if (!store?.spec?.provider?.aws || store.spec.provider.aws.service !== 'SecretsManager') bad('secrets', 'SecretStore must read AWS Secrets Manager');
  else if (store.spec.provider.aws.auth?.jwt?.serviceAccountRef?.name !== sa?.metadata?.name) bad('secrets', 'SecretStore must authenticate as the IRSA service account');

  // ServiceAccount with IRSA, used by the Deployment.
  if (!sa) bad('serviceaccount', 'ServiceAccount missing');
  else {
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/.test(sa.metadata?.annotations?.['eks.amazonaws.com/role-arn'] || '')) bad('serviceaccount', 'IRSA annotation eks.amazonaws.com/role-arn missing');
    if (pod.serviceAccountName !== sa.metadata.name) bad('serviceaccount', 'Deployment must use the chart\'s ServiceAccount');
  }

  // Zone spreading.
  const zone = (pod.topologySpreadConstraints || []).find((t) => t.topologyKey === 'topology.kubernetes.io/zone');
  if (!zone || !selectorMatches(zone.labelSelector, podLabels)) bad('topology', 'topologySpreadConstraints over topology.kubernetes.io/zone missing');
  else if (env === 'prod' && zone.whenUnsatisfiable !== 'DoNotSchedule') bad('topology', 'prod must spread over zones with DoNotSchedule');

  // Service
  const svc = one(docs, 'Service');
  if (!svc || !selectorMatches({ matchLabels: svc.spec?.selector }, podLabels)) bad('service', 'Service must select the pods');
  else if (svc.spec.type !== 'ClusterIP') bad('service', 'Service must be ClusterIP (the ALB reaches pods directly)');
  else if (!(svc.spec.ports || []).some((p) => p.name === 'http' && p.targetPort === 'http')) bad('service', 'Service port http must target the container port http');

  // PodDisruptionBudget
  const pdb = one(docs, 'PodDisruptionBudget');
  if (!pdb) bad('pdb', 'PodDisruptionBudget missing');
  else {
    if (!selectorMatches(pdb.spec?.selector, podLabels)) bad('pdb', 'PDB selector does not match the pods');
    if (pdb.spec?.maxUnavailable === undefined && pdb.spec?.minAvailable === undefined) bad('pdb', 'PDB needs maxUnavailable or minAvailable');
    if (env === 'prod' && pdb.spec?.maxUnavailable !== 1) bad('pdb', 'prod PDB must allow at most 1 disruption');
  }

  // Autoscaling
  const hpa = one(docs, 'HorizontalPodAutoscaler');
  if (env === 'prod') {
    if (!hpa) bad('hpa', 'prod needs a HorizontalPodAutoscaler');
    else {
      if (hpa.spec?.minReplicas !== 3 || hpa.spec?.maxReplicas !== 20) bad('hpa', `prod HPA must scale 3-20 (is ${hpa.spec?.minReplicas}-${hpa.spec?.maxReplicas})`);
      if (hpa.spec?.scaleTargetRef?.kind !== 'Deployment' || hpa.spec?.scaleTargetRef?.name !== dep.metadata.name) bad('hpa', 'HPA must target the Deployment');
      const m = hpa.spec?.metrics || [];
      if (!m.some((x) => x.type === 'Resource' && x.resource?.name === 'cpu')) bad('hpa', 'HPA must scale on CPU');
      if (!m.some((x) => x.type === 'Pods' && /requests_per_second/.test(x.pods?.metric?.name || ''))) bad('hpa', 'HPA must scale on requests per second');
      if (dep.spec?.replicas !== undefined) bad('hpa', 'Deployment must not set replicas when an HPA owns them');
    }
  } else {
    if (hpa) bad('hpa', 'dev runs without an HPA');
    if (dep.spec?.replicas !== 1) bad('hpa', 'dev runs one replica');
  }

  // NetworkPolicy: ingress from the ALB (and Prometheus, helm test) on the app port only;
  // egress to DNS, PostgreSQL and Redis only.
  const np = one(docs, 'NetworkPolicy');
  if (!np || !selectorMatches(np.spec?.podSelector, podLabels)) bad('networkpolicy', 'NetworkPolicy must select the pods');
  else {
    const types = np.spec.policyTypes || [];
    if (!types.includes('Ingress') || !types.includes('Egress')) bad('networkpolicy', 'policyTypes must include Ingress and Egress');
    const ingress = np.spec.ingress || [];
    if (!ingress.some((r) => (r.from || []).some((f) => f.ipBlock))) bad('networkpolicy', 'no ingress rule for the ALB subnets');
    for (const [i, r] of ingress.entries()) {
      if (!r.from?.length) bad('networkpolicy', `ingress[${i}] allows every source`);
      if (!r.ports?.length || r.ports.some((p) => p.port !== APP_PORT)) bad('networkpolicy', `ingress[${i}] must be limited to port ${APP_PORT}`);
      for (const f of r.from || []) {
        if (f.ipBlock && /\/0$/.test(f.ipBlock.cidr)) bad('networkpolicy', `ingress[${i}] from ${f.ipBlock.cidr}`);
        if (f.namespaceSelector && !Object.keys(f.namespaceSelector.matchLabels || {}).length) bad('networkpolicy', `ingress[${i}] from every namespace`);
      }
    }
    const egress = np.spec.egress || [];
    const egressPorts = new Set();
    for (const [i, r] of egress.entries()) {
      if (!r.to?.length) bad('networkpolicy', `egress[${i}] allows every destination`);
      if (!r.ports?.length) bad('networkpolicy', `egress[${i}] allows every port`);
      for (const p of r.ports || []) {
        egressPorts.add(p.port);
        if (!ALLOWED_EGRESS_PORTS.has(p.port)) bad('networkpolicy', `egress[${i}] to port ${p.port} (only DNS, PostgreSQL, Redis)`);
      }
      for (const t of r.to || []) if (t.ipBlock && /\/0$/.test(t.ipBlock.cidr)) bad('networkpolicy', `egress[${i}] to ${t.ipBlock.cidr}`);
    }
    for (const p of ALLOWED_EGRESS_PORTS) if (!egressPorts.has(p)) bad('networkpolicy', `egress to port ${p} missing`);
  }

  // Ingress (AWS Load Balancer Controller)
  const ing = one(docs, 'Ingress');
  if (!ing) bad('ingress', 'Ingress missing');
  else {
    const a = ing.metadata?.annotations || {};
    const p = 'alb.ingress.kubernetes.io/';
    if (ing.spec?.ingressClassName !== 'alb') bad('ingress', 'ingressClassName must be alb');
    let listeners = [];
    try { listeners = JSON.parse(a[`${p}listen-ports`] || '[]'); } catch { bad('ingress', 'listen-ports is not JSON'); }
    if (!listeners.length || listeners.some((l) => JSON.stringify(l) !== '{"HTTPS":443}')) bad('ingress', 'only an HTTPS:443 listener is allowed');
    if (!/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/.+/.test(a[`${p}certificate-arn`] || '')) bad('ingress', 'ACM certificate-arn missing');
    if (!TLS12_POLICIES.includes(a[`${p}ssl-policy`])) bad('ingress', `ssl-policy ${a[`${p}ssl-policy`]} is not a TLS 1.2+ policy`);
    if (!/^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/.+/.test(a[`${p}wafv2-acl-arn`] || '')) bad('ingress', 'wafv2-acl-arn missing');
    if (a[`${p}healthcheck-path`] !== '/readyz') bad('ingress', 'ALB health check must use /readyz');
    if (a[`${p}target-type`] !== 'ip') bad('ingress', 'target-type must be ip');
    if (!a[`${p}load-balancer-name`]) bad('ingress', 'load-balancer-name missing (CloudWatch alarms look the ALB up by name)');
    const dereg = /deregistration_delay\.timeout_seconds=(\d+)/.exec(a[`${p}target-group-attributes`] || '');
    if (!dereg) bad('ingress', 'deregistration_delay.timeout_seconds missing');
    else if (Number(dereg[1]) > tgps || Number(dereg[1]) < (preSleep || 0) + (drain || 0)) bad('ingress', `deregistration delay ${dereg[1]}s must lie between preStop+drain and terminationGracePeriodSeconds`);
    if (env === 'prod' && !/deletion_protection\.enabled=true/.test(a[`${p}load-balancer-attributes`] || '')) bad('ingress', 'prod ALB needs deletion protection');
    if (!/routing\.http\.drop_invalid_header_fields\.enabled=true/.test(a[`${p}load-balancer-attributes`] || '')) bad('ingress', 'ALB must drop invalid header fields');
    for (const rule of ing.spec?.rules || []) {
      for (const path of rule.http?.paths || []) {
        if (!path.path?.startsWith('/v1')) bad('ingress', `path ${path.path} exposes more than the API (/metrics must stay internal)`);
        if (path.backend?.service?.name !== svc?.metadata?.name) bad('ingress', 'backend must be the chart\'s Service');
      }
    }
  }

  // Prometheus Operator objects
  const sm = one(docs, 'ServiceMonitor');
  if (!sm || !selectorMatches(sm.spec?.selector, svc?.metadata?.labels)) bad('monitoring', 'ServiceMonitor must select the Service');
  else if (!(sm.spec.endpoints || []).some((e) => e.port === 'http' && e.path === '/metrics')) bad('monitoring', 'ServiceMonitor must scrape http /metrics');
  const pr = one(docs, 'PrometheusRule');
  const alerts = (pr?.spec?.groups || []).flatMap((g) => g.rules || []).filter((r) => r.alert);
  for (const name of REQUIRED_ALERTS) {
    if (!alerts.some((r) => r.alert === name)) bad('alerts', `alert ${name} missing`);
  }
  for (const r of alerts) {
    if (!['critical', 'warning'].includes(r.labels?.severity)) bad('alerts', `${r.alert}: severity label missing`);
    if (!r.annotations?.runbook_url || !r.annotations?.summary) bad('alerts', `${r.alert}: runbook_url and summary required`);
    if (!r.for) bad('alerts', `${r.alert}: needs a "for" duration`);
  }

  // helm test validates one transaction.
  const tests = docs.filter((d) => isHook(d) && d.metadata.annotations['helm.sh/hook'].split(',').includes('test'));
  if (!tests.some((t) => JSON.stringify(t).includes('/v1/transactions/validate'))) bad('helm-test', 'no helm test hook validating a transaction');

  return v;
}
