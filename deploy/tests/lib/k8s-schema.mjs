// Validates rendered Kubernetes objects two ways:
//  1. the OpenAPI schema shipped by the npm models (kubernetes-models: Kubernetes v1.27.1 schema,
//     the newest release of the models with Node 18 support and raw schemas; every field it
//     accepts exists in 1.28 too; @kubernetes-models/prometheus-operator;
//     @kubernetes-models/external-secrets for v1beta1, which v1 is a rename of for the fields used);
//  2. a strict pass over the same schemas that rejects any field the schema does not declare
//     (what `kubectl apply --validate=strict` does), so a misspelled key cannot hide.
import { createRequire } from 'node:module';
import path from 'node:path';
import { DEPLOY_DIR } from './paths.mjs';

const requireHere = createRequire(path.join(DEPLOY_DIR, 'package.json'));

// Schemas by id, captured as the models register them with their ajv instance.
const registry = new Map();
function hookRegistry(pkg) {
  // Resolve from inside the package, so the copy of validate it actually loads is the one hooked.
  const pkgRequire = createRequire(requireHere.resolve(pkg));
  const validate = pkgRequire('@kubernetes-models/validate');
  if (validate.__txvHooked) return;
  const original = validate.register;
  if (typeof original !== 'function') {
    throw new Error(`${pkg}: @kubernetes-models/validate has no register(); models version changed?`);
  }
  validate.register = (id, schema) => {
    registry.set(id.replace(/#$/, ''), schema);
    return original(id, schema);
  };
  validate.__txvHooked = true;
}
hookRegistry('kubernetes-models');
hookRegistry('@kubernetes-models/prometheus-operator');

// external-secrets.io/v1 objects are checked against the v1beta1 model (same fields).
const ESO_VERSION_FOR_MODEL = { v1: 'v1beta1', v1beta1: 'v1beta1' };

function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  let mod;
  if (group === 'monitoring.coreos.com') {
    mod = `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  } else if (group === 'external-secrets.io') {
    mod = `@kubernetes-models/external-secrets/external-secrets.io/${ESO_VERSION_FOR_MODEL[version]}/${kind}`;
  } else if (group === '') {
    mod = `kubernetes-models/v1/${kind}`;
  } else {
    mod = `kubernetes-models/${group}/${version}/${kind}`;
  }
  let exported;
  try {
    exported = requireHere(mod);
  } catch (e) {
    throw new Error(`no schema for ${apiVersion} ${kind} (${mod}): ${e.message}`);
  }
  const Model = exported[kind];
  if (typeof Model !== 'function') throw new Error(`${mod} exports no ${kind}`);
  return Model;
}

function schemaIdOf(instance) {
  for (let proto = Object.getPrototypeOf(instance); proto; proto = Object.getPrototypeOf(proto)) {
    for (const sym of Object.getOwnPropertySymbols(proto)) {
      if (sym.description === 'SCHEMA_ID' && typeof proto[sym] === 'string') return proto[sym];
    }
  }
  return undefined;
}

function deref(schema) {
  let s = schema;
  for (let i = 0; s && s.$ref && i < 20; i++) {
    const id = s.$ref.replace(/#$/, '');
    const target = registry.get(id);
    if (!target) throw new Error(`unresolved schema reference ${s.$ref}`);
    s = target;
  }
  return s;
}

function typeMatches(schema, value) {
  const t = schema.type;
  if (!t) return true;
  if (Array.isArray(value)) return t === 'array';
  if (value !== null && typeof value === 'object') return t === 'object';
  if (typeof value === 'number') return t === 'number' || t === 'integer';
  return t === typeof value;
}

// Returns the list of unknown-field errors for value under schema.
export function unknownFields(schemaIn, value, where = '') {
  const errors = [];
  const schema = deref(schemaIn);
  if (value === null || value === undefined || !schema) return errors;
  for (const key of ['oneOf', 'anyOf']) {
    if (!schema[key]) continue;
    const branches = schema[key].map(deref).filter((b) => b.type !== 'null' && typeMatches(b, value));
    if (branches.length === 0) return errors; // type errors are the schema validator's job
    const results = branches.map((b) => unknownFields(b, value, where));
    return results.find((r) => r.length === 0) || results[0];
  }
  for (const sub of schema.allOf || []) errors.push(...unknownFields(sub, value, where));
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v, i) => errors.push(...unknownFields(schema.items, v, `${where}[${i}]`)));
    return errors;
  }
  if (typeof value !== 'object' || schema['x-kubernetes-preserve-unknown-fields']) return errors;
  const props = schema.properties || {};
  const declared = Object.keys(props).length > 0;
  const extra = schema.additionalProperties;
  for (const [k, v] of Object.entries(value)) {
    const p = where ? `${where}.${k}` : k;
    if (Object.prototype.hasOwnProperty.call(props, k)) errors.push(...unknownFields(props[k], v, p));
    else if (extra && typeof extra === 'object') errors.push(...unknownFields(extra, v, p));
    else if (extra === true || !declared) continue; // free-form object
    else errors.push(`${p}: unknown field`);
  }
  return errors;
}

// Hand-written strict field lists for the External Secrets objects the chart renders: their npm
// models are precompiled (no schema to walk). Taken from the ESO CRDs (v1/v1beta1), limited to
// the branches this chart uses; anything else in these objects is reported.
const str = { type: 'string' };
const strMap = { type: 'object', additionalProperties: str };
const meta = { $ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' };
const ESO_STRICT = {
  SecretStore: {
    type: 'object',
    properties: {
      apiVersion: str, kind: str, metadata: meta,
      spec: { type: 'object', properties: {
        refreshInterval: { type: 'integer' },
        controller: str,
        provider: { type: 'object', properties: {
          aws: { type: 'object', properties: {
            service: str, region: str, role: str,
            auth: { type: 'object', properties: {
              jwt: { type: 'object', properties: {
                serviceAccountRef: { type: 'object', properties: { name: str, namespace: str, audiences: { type: 'array', items: str } } },
              } },
            } },
          } },
        } },
      } },
    },
  },
  ExternalSecret: {
    type: 'object',
    properties: {
      apiVersion: str, kind: str, metadata: meta,
      spec: { type: 'object', properties: {
        refreshInterval: str,
        secretStoreRef: { type: 'object', properties: { name: str, kind: str } },
        target: { type: 'object', properties: {
          name: str, creationPolicy: str, deletionPolicy: str, immutable: { type: 'boolean' },
          template: { type: 'object', properties: {
            engineVersion: str, type: str, mergePolicy: str,
            metadata: { type: 'object', properties: { labels: strMap, annotations: strMap } },
            data: strMap,
          } },
        } },
        data: { type: 'array', items: { type: 'object', properties: {
          secretKey: str,
          remoteRef: { type: 'object', properties: {
            key: str, property: str, version: str, conversionStrategy: str, decodingStrategy: str, metadataPolicy: str,
          } },
        } } },
      } },
    },
  },
};

// Throws nothing; returns a list of human-readable problems (empty when the object is valid).
export function validateObject(obj) {
  const id = `${obj?.kind || '?'} ${obj?.metadata?.name || '?'}`;
  if (!obj || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    return [`${id}: apiVersion and kind are required`];
  }
  let Model;
  try {
    Model = modelFor(obj.apiVersion, obj.kind);
  } catch (e) {
    return [`${id}: ${e.message}`];
  }
  const problems = [];
  const copy = structuredClone(obj);
  // The v1beta1 model only accepts its own apiVersion; the fields are what is being checked.
  if (obj.apiVersion === 'external-secrets.io/v1') copy.apiVersion = 'external-secrets.io/v1beta1';
  const instance = new Model(copy);
  try {
    instance.validate();
  } catch (e) {
    problems.push(`${id}: schema: ${e.message}`);
  }
  if (obj.apiVersion.startsWith('external-secrets.io/')) {
    // ObjectMeta for the ESO strict pass comes from the core models' registry.
    new (modelFor('v1', 'ConfigMap'))({ metadata: { name: 'x' } }).validate();
    const strict = ESO_STRICT[obj.kind];
    if (!strict) problems.push(`${id}: no strict field list for ${obj.kind}`);
    else problems.push(...unknownFields(strict, obj).map((e) => `${id}: ${e}`));
    return problems;
  }
  const schemaId = schemaIdOf(instance);
  if (!schemaId) return [...problems, `${id}: model has no schema id`];
  const schema = registry.get(schemaId);
  if (!schema) return [...problems, `${id}: schema ${schemaId} was not registered`];
  problems.push(...unknownFields(schema, obj).map((e) => `${id}: ${e}`));
  return problems;
}
