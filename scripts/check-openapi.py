#!/usr/bin/env python3
"""Structural checks of txv's OpenAPI document (api/openapi.yaml).

Usage: scripts/check-openapi.py [--no-node] [PATH]

Checks, with the Python 3 standard library and PyYAML (Debian's python3-yaml):
  - the document is plain JSON-compatible data (no YAML timestamps, non-string keys);
  - openapi is exactly "3.1.0"; info, servers and tags are present;
  - the (method, path) operations are exactly the contract's (api-v1.md, sections 3-7);
  - every $ref is local and resolves (and points at the right kind of component);
  - every operation has responses (with a 2xx), a unique operationId and declared tags;
  - every /v1/ operation requires bearerAuth and names its roles (x-roles and the
    description); the health endpoints have `security: []`;
  - every path template parameter is declared (in: path, required: true) and every
    declared path parameter is in the template;
  - every response carries an X-Request-Id header, every 429 a Retry-After header,
    every /v1/ operation answers 401/429/500/503, every body-taking one 400/413/415/422,
    and every JSON error response uses the shared Error schema.

Then, when api/node_modules is installed (cd api && npm ci), it runs the pinned
@apidevtools/swagger-parser validator (the OpenAPI 3.1 meta-schema and its semantic
rules) and checks every example in the document against its schema with Ajv
(JSON Schema 2020-12). Without node_modules that step is skipped with a note.

Exits 0 when everything passes, 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - environment problem
    sys.stderr.write("check-openapi: PyYAML is missing; install Debian's python3-yaml (scripts/install-deps.sh)\n")
    sys.exit(1)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOC = ROOT / "api" / "openapi.yaml"
NODE_DIR = ROOT / "api"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
HEALTH_PATHS = {"/livez", "/readyz", "/startupz", "/metrics"}
# Section 13: signing in (the key is in the body) and the console's files take no auth either.
PUBLIC_OPERATIONS = {
    ("POST", "/v1/sessions"),
    ("GET", "/console"),
    ("GET", "/console/{file}"),
    ("GET", "/console/assets/{file}"),
}
ROLES = {"admin", "analyst", "validator"}

# The contract's routes (api-v1.md sections 3, 4, 5, 6, 6b and 7): no more, no fewer.
EXPECTED_OPERATIONS = {
    ("POST", "/v1/transactions/validate"),
    ("POST", "/v1/transactions/validate-batch"),
    ("GET", "/v1/transactions"),
    ("GET", "/v1/transactions/{merchant_id}/{transaction_id}"),
    ("POST", "/v1/transactions/{merchant_id}/{transaction_id}/resolution"),
    ("POST", "/v1/transactions/{merchant_id}/{transaction_id}/labels"),  # section 9
    ("POST", "/v1/labels/batch"),  # section 9
    ("POST", "/v1/rules"),
    ("GET", "/v1/rules"),
    ("GET", "/v1/rules/{id}"),
    ("PUT", "/v1/rules/{id}"),
    ("DELETE", "/v1/rules/{id}"),
    ("POST", "/v1/rules/check"),  # section 12
    ("GET", "/v1/rules/analysis"),  # section 12
    ("PUT", "/v1/rules"),  # section 12
    ("POST", "/v1/backtests"),  # section 11
    ("GET", "/v1/backtests"),  # section 11
    ("GET", "/v1/backtests/{id}"),  # section 11
    ("DELETE", "/v1/backtests/{id}"),  # section 11
    ("PUT", "/v1/lists/{name}"),
    ("POST", "/v1/lists/{name}/entries"),
    ("DELETE", "/v1/lists/{name}/entries/{value}"),
    ("GET", "/v1/lists"),
    ("GET", "/v1/lists/{name}"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/transactions/{merchant_id}/{transaction_id}/labels"),  # console: label history
    ("GET", "/v1/lists/{name}/entries"),  # console: list paging and prefix search
    ("GET", "/v1/stats"),  # console: dashboard
    ("POST", "/v1/sessions"),  # section 13
    ("GET", "/v1/sessions/current"),  # section 13
    ("DELETE", "/v1/sessions/current"),  # section 13
    ("GET", "/console"),  # section 13
    ("GET", "/console/{file}"),  # section 13
    ("GET", "/console/assets/{file}"),  # section 13
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("GET", "/startupz"),
    ("GET", "/metrics"),
}

# Every error code the contract and the implementation use.
CONTRACT_ERROR_CODES = {
    "malformed_json", "unauthorized", "forbidden", "not_found", "method_not_allowed",
    "idempotency_conflict", "not_reviewable", "conflict", "payload_too_large",
    "unsupported_media_type", "validation_failed", "invalid_expression", "rate_limited",
    "internal", "unavailable",
}

# Which components section a $ref found in a given position must point into.
REF_KIND = {
    "parameter": "#/components/parameters/",
    "response": "#/components/responses/",
    "header": "#/components/headers/",
    "example": "#/components/examples/",
    "requestBody": "#/components/requestBodies/",
    "schema": "#/components/schemas/",
}


class Checker:
    def __init__(self, doc: dict):
        self.doc = doc
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.used_refs: set[str] = set()

    # ------------------------------------------------------------------ utils
    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{where}: {message}")

    def pointer(self, ref: str):
        """Resolves a local JSON pointer ('#/a/b~1c'); raises KeyError when it does not."""
        if not ref.startswith("#"):
            raise KeyError(ref)
        node = self.doc
        if ref in ("#", "#/"):
            return node
        if not ref.startswith("#/"):
            raise KeyError(ref)
        for raw in ref[2:].split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise KeyError(ref)
        return node

    def resolve(self, node, where: str, kind: str | None = None, depth: int = 0):
        """Follows $ref chains of a node; returns the target (or None when broken)."""
        if not isinstance(node, dict) or "$ref" not in node:
            return node
        if depth > 20:
            self.error(where, "$ref chain too long (cycle?)")
            return None
        ref = node["$ref"]
        if kind is not None and isinstance(ref, str) and not ref.startswith(REF_KIND[kind]):
            self.error(where, f"$ref {ref!r} should point into {REF_KIND[kind]}")
        try:
            target = self.pointer(ref)
        except (KeyError, TypeError):
            # Reported once by check_refs(); do not repeat here.
            return None
        return self.resolve(target, where, kind, depth + 1)

    # ------------------------------------------------------------------ checks
    def check_json_compatible(self, node, where: str = "#") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if not isinstance(k, str):
                    self.error(where, f"non-string key {k!r} (quote it)")
                self.check_json_compatible(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                self.check_json_compatible(v, f"{where}/{i}")
        elif node is None or isinstance(node, (str, bool, int, float)):
            return
        else:
            self.error(where, f"value of YAML type {type(node).__name__} is not JSON (quote it)")

    def check_top(self) -> None:
        d = self.doc
        if d.get("openapi") != "3.1.0":
            self.error("#/openapi", f"must be the string '3.1.0', got {d.get('openapi')!r}")
        info = d.get("info")
        if not isinstance(info, dict):
            self.error("#/info", "missing")
        else:
            for key in ("title", "version", "description"):
                if not isinstance(info.get(key), str) or not info.get(key):
                    self.error(f"#/info/{key}", "missing or empty")
        servers = d.get("servers")
        if not isinstance(servers, list) or not any(
            isinstance(s, dict) and s.get("url") == "http://127.0.0.1:8080" for s in servers
        ):
            self.error("#/servers", "must list http://127.0.0.1:8080")
        tags = d.get("tags")
        if not isinstance(tags, list) or not tags:
            self.error("#/tags", "missing")
        else:
            names = [t.get("name") for t in tags if isinstance(t, dict)]
            if len(names) != len(set(names)):
                self.error("#/tags", "duplicate tag names")
        schemes = d.get("components", {}).get("securitySchemes", {})
        bearer = schemes.get("bearerAuth")
        if not isinstance(bearer, dict) or bearer.get("type") != "http" or bearer.get("scheme") != "bearer":
            self.error("#/components/securitySchemes/bearerAuth", "must be an http bearer scheme")
        if not isinstance(d.get("paths"), dict) or not d["paths"]:
            self.error("#/paths", "missing")

    def check_refs(self, node, where: str = "#") -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                ref = node["$ref"]
                if not isinstance(ref, str) or not ref.startswith("#/"):
                    self.error(where, f"$ref {ref!r} is not a local reference")
                else:
                    self.used_refs.add(ref)
                    try:
                        self.pointer(ref)
                    except KeyError:
                        self.error(where, f"$ref {ref!r} does not resolve")
            for k, v in node.items():
                self.check_refs(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                self.check_refs(v, f"{where}/{i}")

    def check_unused_components(self) -> None:
        for section, items in self.doc.get("components", {}).items():
            if section == "securitySchemes" or not isinstance(items, dict):
                continue
            for name, value in items.items():
                ref = f"#/components/{section}/{name}"
                if isinstance(value, dict) and value.get("x-unreferenced"):
                    continue  # deliberately unused; the extension says why
                if ref not in self.used_refs:
                    self.warn(ref, "defined but never referenced")

    def operations(self):
        for path, item in (self.doc.get("paths") or {}).items():
            if not isinstance(item, dict):
                self.error(f"#/paths/{path}", "path item must be an object")
                continue
            for method in HTTP_METHODS:
                if method in item:
                    yield path, item, method, item[method]

    def check_operation_set(self) -> None:
        found = set()
        for path, _, method, _ in self.operations():
            found.add((method.upper(), path))
        for method, path in sorted(found - EXPECTED_OPERATIONS):
            self.error("#/paths", f"{method} {path} is not a contract route")
        for method, path in sorted(EXPECTED_OPERATIONS - found):
            self.error("#/paths", f"{method} {path} is missing")
        for path, item in (self.doc.get("paths") or {}).items():
            if not path.startswith("/"):
                self.error(f"#/paths/{path}", "must start with '/'")
            extra = set(item) - set(HTTP_METHODS) - {"parameters", "summary", "description", "servers", "$ref"}
            extra = {k for k in extra if not k.startswith("x-")}
            if extra:
                self.error(f"#/paths/{path}", f"unexpected keys {sorted(extra)}")

    def declared_params(self, params, where: str) -> dict:
        out = {}
        if params is None:
            return out
        if not isinstance(params, list):
            self.error(where, "parameters must be a list")
            return out
        for i, p in enumerate(params):
            r = self.resolve(p, f"{where}/{i}", "parameter")
            if not isinstance(r, dict):
                continue
            key = (r.get("name"), r.get("in"))
            if None in key:
                self.error(f"{where}/{i}", "parameter needs name and in")
                continue
            if key in out:
                self.error(f"{where}/{i}", f"duplicate parameter {key[0]!r} in {key[1]}")
            if "schema" not in r and "content" not in r:
                self.error(f"{where}/{i}", f"parameter {key[0]!r} has neither schema nor content")
            out[key] = r
        return out

    def check_operation(self, path: str, item: dict, method: str, op: dict, op_ids: dict, tag_names: set) -> None:
        where = f"#/paths/{path}/{method}"
        if not isinstance(op, dict):
            self.error(where, "operation must be an object")
            return
        is_health = path in HEALTH_PATHS
        is_public = (method.upper(), path) in PUBLIC_OPERATIONS

        # operationId
        op_id = op.get("operationId")
        if not isinstance(op_id, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", op_id or ""):
            self.error(where, f"operationId missing or malformed: {op_id!r}")
        elif op_id in op_ids:
            self.error(where, f"operationId {op_id!r} also used by {op_ids[op_id]}")
        else:
            op_ids[op_id] = f"{method.upper()} {path}"

        for key in ("summary", "description"):
            if not isinstance(op.get(key), str) or not op[key].strip():
                self.error(where, f"{key} missing")
        tags = op.get("tags")
        if not isinstance(tags, list) or not tags:
            self.error(where, "tags missing")
        else:
            for t in tags:
                if t not in tag_names:
                    self.error(where, f"tag {t!r} is not declared in #/tags")

        # security and roles
        if "security" in op:
            security = op["security"]
        else:
            security = self.doc.get("security")
        schemes = self.doc.get("components", {}).get("securitySchemes", {})
        if is_health or is_public:
            if op.get("security") != []:
                self.error(where, "health and public endpoints take no auth: set `security: []` explicitly")
            if "x-roles" in op:
                self.error(where, "health and public endpoints have no roles (no x-roles)")
        else:
            if not isinstance(security, list) or not security:
                self.error(where, "security missing (every /v1/ operation requires bearerAuth)")
            else:
                for req in security:
                    if not isinstance(req, dict) or not req:
                        self.error(where, "empty security requirement makes auth optional")
                        continue
                    for name in req:
                        if name not in schemes:
                            self.error(where, f"security scheme {name!r} is not defined")
            roles = op.get("x-roles")
            if not isinstance(roles, list) or not roles:
                self.error(where, "x-roles missing or empty")
            else:
                if len(roles) != len(set(roles)) or not set(roles) <= ROLES:
                    self.error(where, f"x-roles must be distinct values of {sorted(ROLES)}, got {roles}")
                desc = op.get("description", "")
                if "**Roles:**" not in desc:
                    self.error(where, "description must state the roles (a '**Roles:**' line)")
                else:
                    roles_text = desc.split("**Roles:**", 1)[1]
                    for r in roles:
                        if f"`{r}`" not in roles_text:
                            self.error(where, f"description's Roles line does not mention `{r}`")
                if "admin" not in roles:
                    self.error(where, "admin may call everything: x-roles must include admin")

        # path parameters
        names_in_template = re.findall(r"\{([^{}/]+)\}", path)
        if len(names_in_template) != len(set(names_in_template)):
            self.error(where, "path template repeats a parameter name")
        if re.search(r"\{[^}]*$|^[^{]*\}", path) or path.count("{") != path.count("}"):
            self.error(where, "unbalanced braces in path template")
        declared = self.declared_params(item.get("parameters"), f"#/paths/{path}/parameters")
        declared.update(self.declared_params(op.get("parameters"), f"{where}/parameters"))
        for name in names_in_template:
            p = declared.get((name, "path"))
            if p is None:
                self.error(where, f"path parameter {{{name}}} is not declared")
            elif p.get("required") is not True:
                self.error(where, f"path parameter {{{name}}} must have required: true")
        for (name, loc) in declared:
            if loc == "path" and name not in names_in_template:
                self.error(where, f"path parameter {name!r} is declared but not in the template")
            if loc not in ("path", "query", "header", "cookie"):
                self.error(where, f"parameter {name!r} has invalid in: {loc!r}")
        if not is_health and ("X-Request-Id", "header") not in declared:
            self.warn(where, "X-Request-Id request header not declared")

        # request body
        body = op.get("requestBody")
        if body is not None:
            rb = self.resolve(body, f"{where}/requestBody", "requestBody")
            if isinstance(rb, dict):
                content = rb.get("content") or {}
                if set(content) != {"application/json"}:
                    self.error(f"{where}/requestBody", "request bodies are application/json only")
                for mt, media in content.items():
                    if not isinstance(media, dict) or "schema" not in media:
                        self.error(f"{where}/requestBody/content/{mt}", "schema missing")
        if method in ("get", "delete") and body is not None:
            self.error(where, f"{method.upper()} must not take a request body")

        # responses
        responses = op.get("responses")
        if not isinstance(responses, dict) or not responses:
            self.error(where, "responses missing")
            return
        codes = set()
        for code, resp in responses.items():
            code = str(code)
            codes.add(code)
            rwhere = f"{where}/responses/{code}"
            if not re.fullmatch(r"[1-5](\d\d|XX)|default", code):
                self.error(rwhere, "not a valid status code key (quote it in YAML)")
            r = self.resolve(resp, rwhere, "response")
            if not isinstance(r, dict):
                continue
            if not isinstance(r.get("description"), str):
                self.error(rwhere, "description missing")
            headers = r.get("headers") or {}
            rid = self.resolve(headers.get("X-Request-Id"), f"{rwhere}/headers/X-Request-Id", "header")
            if not isinstance(rid, dict):
                self.error(rwhere, "X-Request-Id response header missing")
            elif rid.get("required") is not True:
                self.error(rwhere, "X-Request-Id response header must be required")
            if code == "429":
                ra = self.resolve(headers.get("Retry-After"), f"{rwhere}/headers/Retry-After", "header")
                if not isinstance(ra, dict) or (ra.get("schema") or {}).get("type") != "integer":
                    self.error(rwhere, "429 needs a Retry-After header with an integer schema")
            for hname, h in headers.items():
                self.resolve(h, f"{rwhere}/headers/{hname}", "header")
            content = r.get("content") or {}
            if code == "204" and content:
                self.error(rwhere, "204 must have no content")
            if code.startswith(("4", "5")) and not (is_health and code == "503"):
                schema = (content.get("application/json") or {}).get("schema")
                if schema != {"$ref": "#/components/schemas/Error"}:
                    self.error(rwhere, "error responses must use the shared Error schema")
            for mt, media in content.items():
                if not isinstance(media, dict) or "schema" not in media:
                    self.error(f"{rwhere}/content/{mt}", "schema missing")
                    continue
                self.resolve(media["schema"], f"{rwhere}/content/{mt}/schema", "schema")
                for ename, ex in (media.get("examples") or {}).items():
                    self.resolve(ex, f"{rwhere}/content/{mt}/examples/{ename}", "example")
        if not any(c.startswith("2") for c in codes):
            self.error(where, "no 2xx response")
        if not is_health and not is_public:
            for needed in ("401", "429", "500", "503"):
                if needed not in codes:
                    self.error(where, f"{needed} response missing")
        if not is_health:
            if body is not None:
                for needed in ("400", "413", "415", "422"):
                    if needed not in codes:
                        self.error(where, f"{needed} response missing (operation takes a body)")
            if "x-roles" in op and set(op.get("x-roles") or []) != ROLES and "403" not in codes:
                self.error(where, "403 response missing (not every role may call it)")
        if path == "/metrics":
            ok = responses.get("200") or {}
            if "text/plain" not in (ok.get("content") or {}):
                self.error(where, "/metrics answers text/plain")

    def check_operations(self) -> None:
        op_ids: dict = {}
        tag_names = {t.get("name") for t in self.doc.get("tags") or [] if isinstance(t, dict)}
        for path, item, method, op in self.operations():
            self.check_operation(path, item, method, op, op_ids, tag_names)

    def check_error_schema(self) -> None:
        schemas = self.doc.get("components", {}).get("schemas", {})
        err = schemas.get("Error")
        try:
            inner = err["properties"]["error"]
            required = set(inner["required"])
            props = inner["properties"]
        except (TypeError, KeyError):
            self.error("#/components/schemas/Error", "must be {error: {code, message, details}}")
            return
        if not {"code", "message", "details"} <= required or not {"code", "message", "details"} <= set(props):
            self.error("#/components/schemas/Error", "error must require code, message and details")
        code = self.resolve(props.get("code"), "#/components/schemas/Error/properties/error/properties/code", "schema")
        enum = set((code or {}).get("enum") or [])
        missing = CONTRACT_ERROR_CODES - enum
        if missing:
            self.error("#/components/schemas/ErrorCode", f"missing contract codes {sorted(missing)}")

    def run(self) -> None:
        self.check_json_compatible(self.doc)
        self.check_top()
        self.check_refs(self.doc)
        self.check_operation_set()
        self.check_operations()
        self.check_error_schema()
        self.check_unused_components()


# Runs with api/node_modules: the swagger-parser validator, then every example
# against its (dereferenced) schema with Ajv in JSON Schema 2020-12 mode.
NODE_SCRIPT = r"""
const path = process.argv[1];
const SwaggerParser = require("@apidevtools/swagger-parser");
const Ajv2020 = require("ajv/dist/2020").default;
(async () => {
  await SwaggerParser.validate(path);
  console.log("swagger-parser: valid OpenAPI " + (await SwaggerParser.parse(path)).openapi);
  const api = await SwaggerParser.dereference(path);
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  let checked = 0;
  const failures = [];
  const check = (schema, value, where) => {
    if (schema === undefined || value === undefined) return;
    const validate = ajv.compile(schema);
    checked += 1;
    if (!validate(value)) failures.push(where + ": " + ajv.errorsText(validate.errors));
  };
  const media = (content, where) => {
    for (const [mt, m] of Object.entries(content || {})) {
      if (m.example !== undefined) check(m.schema, m.example, where + " " + mt + " example");
      for (const [name, ex] of Object.entries(m.examples || {})) {
        check(m.schema, ex.value, where + " " + mt + " examples." + name);
      }
    }
  };
  const param = (p, where) => {
    if (p.example !== undefined) check(p.schema, p.example, where + " parameter " + p.name + " example");
    for (const [name, ex] of Object.entries(p.examples || {})) check(p.schema, ex.value, where + " parameter " + p.name + " examples." + name);
  };
  for (const [p, item] of Object.entries(api.paths)) {
    for (const prm of item.parameters || []) param(prm, p);
    for (const method of ["get", "put", "post", "delete", "patch", "head", "options", "trace"]) {
      const op = item[method];
      if (!op) continue;
      const where = method.toUpperCase() + " " + p;
      for (const prm of op.parameters || []) param(prm, where);
      if (op.requestBody) media(op.requestBody.content, where + " request");
      for (const [code, r] of Object.entries(op.responses || {})) {
        media(r.content, where + " " + code);
        for (const [h, hdr] of Object.entries(r.headers || {})) {
          if (hdr.example !== undefined) check(hdr.schema, hdr.example, where + " " + code + " header " + h);
        }
      }
    }
  }
  for (const [name, s] of Object.entries((api.components || {}).schemas || {})) {
    for (const [i, ex] of (s.examples || []).entries()) check(s, ex, "schema " + name + " examples[" + i + "]");
    for (const [prop, ps] of Object.entries(s.properties || {})) {
      for (const [i, ex] of ((ps && ps.examples) || []).entries()) check(ps, ex, "schema " + name + "." + prop + " examples[" + i + "]");
    }
  }
  if (failures.length) {
    for (const f of failures) console.error("example does not match its schema: " + f);
    process.exit(1);
  }
  console.log("ajv: " + checked + " examples match their schemas");
})().catch((e) => { console.error("swagger-parser: " + e.message); process.exit(1); });
"""


def run_node_checks(doc_path: Path) -> bool | None:
    """True/False for pass/fail, None when skipped."""
    if not (NODE_DIR / "node_modules" / "@apidevtools" / "swagger-parser").is_dir():
        print("check-openapi: npm validator skipped (run `npm ci` in api/ to enable it)")
        return None
    node = shutil.which("node")
    if node is None:
        print("check-openapi: npm validator skipped (node is not installed)")
        return None
    proc = subprocess.run([node, "-e", NODE_SCRIPT, str(doc_path)], cwd=NODE_DIR, text=True,
                          capture_output=True, timeout=300)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc.returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", nargs="?", default=str(DEFAULT_DOC), help="the document (default api/openapi.yaml)")
    ap.add_argument("--no-node", action="store_true", help="skip the npm validator even when installed")
    args = ap.parse_args()
    doc_path = Path(args.path).resolve()

    try:
        with open(doc_path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        print(f"check-openapi: cannot load {doc_path}: {e}", file=sys.stderr)
        return 1
    if not isinstance(doc, dict):
        print(f"check-openapi: {doc_path} is not a mapping", file=sys.stderr)
        return 1

    checker = Checker(doc)
    checker.run()
    for w in checker.warnings:
        print(f"warning: {w}")
    for e in checker.errors:
        print(f"error: {e}", file=sys.stderr)
    n_ops = sum(1 for _ in checker.operations())
    ok = not checker.errors
    print(f"check-openapi: {doc_path.name}: {n_ops} operations, {len(checker.used_refs)} distinct $refs, "
          f"{len(checker.errors)} errors, {len(checker.warnings)} warnings")

    if not args.no_node:
        node_ok = run_node_checks(doc_path)
        if node_ok is False:
            ok = False
    print("check-openapi: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
