#!/usr/bin/env python3
"""Names the breaking changes between two OpenAPI documents (docs/clients.md, "Breaking changes").

    scripts/openapi-breaking.py BASE.json NEW.json

A change breaks a client when a call it makes, or a field it reads, stops working:

- a removed route (path and method);
- a removed field: a property of a request or response body (at any depth) that is gone, or a
  parameter that is gone;
- a narrowed type in what the client sends (request bodies, parameters): fewer JSON types
  (`null` no longer accepted, too), fewer enum values, a field or parameter newly required;
- a widened type in what the client reads (response bodies): more JSON types (a field that may
  now be `null`), more enum values, a field no longer always present.

Prints one line per breaking change and exits 1 if there is any; 0 (and says so) otherwise.
Only the standard library; runs in well under a second.
"""

import json
import sys

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


class Document:
    def __init__(self, doc):
        self.doc = doc

    def resolve(self, schema):
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 50:
            node = self.doc
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node.get(part, {})
            schema, seen = node, seen + 1
        return schema if isinstance(schema, dict) else {}

    def shape(self, schema):
        """Types, properties, required names, enum values, items of a schema, unions merged."""
        schema = self.resolve(schema)
        shape = {"types": set(), "props": {}, "required": set(), "enum": None, "items": [], "extra": []}
        variants = schema.get("oneOf") or schema.get("anyOf")
        for part in variants or []:
            sub = self.shape(part)
            shape["types"] |= sub["types"]
            shape["props"].update(sub["props"])
            shape["items"] += sub["items"]
            shape["extra"] += sub["extra"]
            if sub["enum"] is not None:
                shape["enum"] = (shape["enum"] or set()) | sub["enum"]
        if variants:
            required = [self.shape(part)["required"] for part in variants]
            shape["required"] = set.intersection(*required) if required else set()
        for part in schema.get("allOf", []):
            sub = self.shape(part)
            shape["types"] |= sub["types"]
            shape["props"].update(sub["props"])
            shape["required"] |= sub["required"]
        kind = schema.get("type")
        if isinstance(kind, str):
            shape["types"].add(kind)
        elif isinstance(kind, list):
            shape["types"] |= set(kind)
        if "integer" in shape["types"]:
            shape["types"].add("number")
        shape["props"].update(schema.get("properties", {}))
        shape["required"] |= set(schema.get("required", []))
        if "enum" in schema:
            shape["enum"] = {json.dumps(v) for v in schema["enum"]}
        if "items" in schema:
            shape["items"].append(schema["items"])
        if isinstance(schema.get("additionalProperties"), dict):
            shape["extra"].append(schema["additionalProperties"])
        return shape


def compare(base, new, a, b, where, sending, out, seen):
    key = (id(base.resolve(a)), id(new.resolve(b)), sending)
    if key in seen:
        return
    seen.add(key)
    old, cur = base.shape(a), new.shape(b)
    if old["types"] and cur["types"]:
        lost, gained = old["types"] - cur["types"], cur["types"] - old["types"]
        if sending and lost:
            out.append(f"narrowed type: {where} no longer accepts {sorted(lost)}")
        if not sending and gained:
            out.append(f"widened type: {where} may now be {sorted(gained)}")
    if old["enum"] is not None and cur["enum"] is not None:
        if sending and old["enum"] - cur["enum"]:
            out.append(f"narrowed type: {where} lost the values {sorted(old['enum'] - cur['enum'])}")
        if not sending and cur["enum"] - old["enum"]:
            out.append(f"widened type: {where} has new values {sorted(cur['enum'] - old['enum'])}")
    if old["enum"] is None and cur["enum"] is not None and sending:
        out.append(f"narrowed type: {where} now takes only {sorted(cur['enum'])}")
    for name, schema in old["props"].items():
        path = f"{where}.{name}"
        if name not in cur["props"]:
            out.append(f"removed field: {path}")
            continue
        if sending and name in cur["required"] and name not in old["required"]:
            out.append(f"narrowed type: {path} is now required")
        if not sending and name in old["required"] and name not in cur["required"]:
            out.append(f"widened type: {path} is no longer always present")
        compare(base, new, schema, cur["props"][name], path, sending, out, seen)
    if sending:
        for name in cur["required"] - old["required"] - set(old["props"]):
            out.append(f"narrowed type: {where}.{name} is a new required field")
    for x in old["items"]:
        for y in cur["items"][:1]:
            compare(base, new, x, y, f"{where}[]", sending, out, seen)
    for x in old["extra"]:
        for y in cur["extra"][:1]:
            compare(base, new, x, y, f"{where}{{*}}", sending, out, seen)


def parameters(doc, item, op):
    found = {}
    for p in item.get("parameters", []) + op.get("parameters", []):
        p = doc.resolve(p)
        found[(p.get("in"), p.get("name", "").lower())] = p
    return found


def main(base_path, new_path):
    base = Document(json.load(open(base_path)))
    new = Document(json.load(open(new_path)))
    out, seen = [], set()
    for path, item in base.doc.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            name = f"{method.upper()} {path}"
            cur_item = new.doc.get("paths", {}).get(path, {})
            cur = cur_item.get(method)
            if cur is None:
                out.append(f"removed route: {name}")
                continue
            old_params, cur_params = parameters(base, item, op), parameters(new, cur_item, cur)
            for key, p in old_params.items():
                label = f"{name} {key[0]} parameter {p.get('name')}"
                if key not in cur_params:
                    out.append(f"removed field: {label}")
                    continue
                if cur_params[key].get("required") and not p.get("required"):
                    out.append(f"narrowed type: {label} is now required")
                compare(base, new, p.get("schema", {}), cur_params[key].get("schema", {}), label, True, out, seen)
            for key, p in cur_params.items():
                if key not in old_params and p.get("required"):
                    out.append(f"narrowed type: {name} needs a new {key[0]} parameter {p.get('name')}")
            old_body = base.resolve(op.get("requestBody", {})).get("content", {})
            cur_body = new.resolve(cur.get("requestBody", {})).get("content", {})
            for media, content in old_body.items():
                if media in cur_body:
                    compare(base, new, content.get("schema", {}), cur_body[media].get("schema", {}),
                            f"{name} request body", True, out, seen)
                else:
                    out.append(f"removed field: {name} no longer takes {media}")
            for status, response in op.get("responses", {}).items():
                cur_response = new.resolve(cur.get("responses", {}).get(status, {}))
                for media, content in base.resolve(response).get("content", {}).items():
                    cur_content = cur_response.get("content", {}).get(media)
                    if cur_content is None:
                        continue  # a status no longer answered is not a field a client loses
                    compare(base, new, content.get("schema", {}), cur_content.get("schema", {}),
                            f"{name} {status} body", False, out, seen)
    for line in dict.fromkeys(out):
        print(line)
    if out:
        print(f"openapi-breaking: {len(dict.fromkeys(out))} breaking change(s) from {base_path} to {new_path}",
              file=sys.stderr)
        return 1
    print(f"openapi-breaking: nothing breaks from {base_path} to {new_path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
