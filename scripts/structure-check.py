#!/usr/bin/env python3
"""Structure check (issue 23, ADR 0004): no import circle among the modules of a crate, no
upward import between layers, no domain reading the settings, no HTTP module naming `Settings`
(it reads `http::HttpConfig`), no function over 80 lines outside tests.

Reads the sources only (no build): each file's `use` and path references (`crate::…`,
`super::…`) become edges between modules; test-only modules (`#[cfg(test)]`) are left out. An
edge between a module and its own ancestor is not counted (a child naming its parent's items, a
parent re-exporting its children). Exit status 1 with one line per finding.

Usage: scripts/structure-check.py [repo root]
"""

import os
import re
import sys

MAX_LINES = 80
# Layers of the main crate, lowest first: a module may import its own layer and lower ones.
LAYERS = [
    {"audit", "db", "input", "net", "schemas", "settings", "telemetry", "error_reporting", "limits"},
    {"auth", "backtest", "dsr", "email", "market_data", "retention", "trading"},
    {"http"},
    {"cli", "startup"},
]
# Domains take their own config types, built from the settings in `startup::wiring`.
DOMAINS_NEVER_IMPORT = ("settings",)
# Nor do the adapters keep the whole settings: the HTTP layer reads its own `HttpConfig`.
NEVER_NAMED_BY = {"http": re.compile(r"\bSettings\b")}
# Functions over the limit that another piece of work is rewriting; each names why.
ALLOW_FILE = "scripts/structure-allow.txt"

FN = re.compile(r"^(\s*)(?:pub(?:\([a-z]+\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?"
                r"(?:extern\s+\"C\"\s+)?fn\s+(\w+)")
MOD = re.compile(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+(\w+)\s*;")
INLINE_MOD = re.compile(r"^(\s*)(?:pub(?:\([a-z]+\))?\s+)?mod\s+(\w+)\s*\{")
PATH = re.compile(r"\b((?:crate|super|self)(?:::(?:super|\w+))*)(?:::\{)?")


def module_files(src_root, entry):
    """Maps module path (tuple) -> file, following `mod x;`, skipping test-only modules."""
    modules = {}

    def visit(path, file, own_dir):
        modules[path] = file
        lines = open(file, encoding="utf-8").read().splitlines()
        for i, line in enumerate(lines):
            m = MOD.match(line)
            if not m:
                continue
            if any("cfg(test)" in lines[k] for k in range(max(0, i - 2), i)):
                continue
            name = m.group(1)
            for candidate in (os.path.join(own_dir, name + ".rs"),
                              os.path.join(own_dir, name, "mod.rs")):
                if os.path.exists(candidate):
                    child_dir = os.path.join(own_dir, name)
                    visit(path + (name,), candidate, child_dir)
                    break

    visit((), os.path.join(src_root, entry), src_root)
    return modules


def strip_tests_and_comments(text):
    """The file without comments and without `#[cfg(test)]` items (rustfmt layout)."""
    out, skip_indent, pending_test = [], None, False
    for line in text.splitlines():
        stripped = line.strip()
        if skip_indent is not None:
            if line.startswith(skip_indent + "}") and line.strip() == "}":
                skip_indent = None
            out.append("")
            continue
        if stripped.startswith("#[cfg(test)]"):
            pending_test = True
            out.append("")
            continue
        if pending_test:
            pending_test = False
            m = INLINE_MOD.match(line) or FN.match(line)
            if m and line.rstrip().endswith("{"):
                skip_indent = m.group(1)
                out.append("")
                continue
        code = line.split("//", 1)[0] if not stripped.startswith("//") else ""
        out.append(code)
    return out


def expand_groups(text):
    """`a::{b, c::{d, e}}` -> `a::b a::c::d a::c::e`, for the paths of `use` lines."""
    pattern = re.compile(r"((?:crate|super|self)(?:::\w+)*)::\{([^{}]*)\}")
    while True:
        new = pattern.sub(
            lambda m: " ".join(m.group(1) + "::" + part.strip()
                               for part in m.group(2).split(",") if part.strip()), text)
        if new == text:
            return text
        text = new


def resolve(current, is_dir_module, raw, modules):
    """The module a path names, as the longest known module prefix."""
    parts = raw.split("::")
    if parts[0] == "crate":
        base, rest = (), parts[1:]
    else:
        # `super` of a file module is its parent; of a mod.rs module, its parent too.
        base = current
        rest = parts
        while rest and rest[0] in ("self", "super"):
            if rest[0] == "super":
                base = base[:-1]
            rest = rest[1:]
    if parts[0] == "crate" and rest[:1] == ["Settings"]:
        return ("settings",)  # the crate root's re-export
    path = base
    best = base
    for part in rest:
        path = path + (part,)
        if path in modules:
            best = path
        else:
            break
    return best


def related(a, b):
    return a[: len(b)] == b or b[: len(a)] == a


def edges_of(modules):
    edges = {}
    for path, file in modules.items():
        lines = strip_tests_and_comments(open(file, encoding="utf-8").read())
        text = expand_groups("\n".join(lines))
        targets = set()
        for raw in PATH.findall(text):
            target = resolve(path, file.endswith("mod.rs"), raw, modules)
            if target != path and not related(path, target) and target:
                targets.add(target)
        edges[path] = targets
    return edges


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            strong(v)
    return found


def layer(path):
    for i, names in enumerate(LAYERS):
        if path and path[0] in names:
            return i
    return None


def long_functions(modules, root, allowed):
    found = []
    for file in sorted(set(modules.values())):
        lines = strip_tests_and_comments(open(file, encoding="utf-8").read())
        rel = os.path.relpath(file, root)
        for i, line in enumerate(lines):
            m = FN.match(line)
            if not m:
                continue
            # A declaration without a body (a trait's), its signature on one line or several.
            signature_end = next((k for k in range(i, len(lines))
                                  if lines[k].rstrip().endswith(("{", ";"))), None)
            if signature_end is None or lines[signature_end].rstrip().endswith(";"):
                continue
            indent, name = m.group(1), m.group(2)
            end = next((k for k in range(i + 1, len(lines))
                        if lines[k].rstrip() == indent + "}"), None)
            if end is None:
                continue
            length = end - i + 1
            if length > MAX_LINES and f"{rel}:{name}" not in allowed:
                found.append(f"{rel}:{i + 1}: fn {name} is {length} lines (at most {MAX_LINES})")
    return found


def settings_named(modules):
    """Modules (outside tests and comments) that name a type they must not: see NEVER_NAMED_BY."""
    found = []
    for path, file in sorted(modules.items()):
        forbidden = NEVER_NAMED_BY.get(path[0]) if path else None
        if forbidden is None:
            continue
        text = "\n".join(strip_tests_and_comments(open(file, encoding="utf-8").read()))
        if forbidden.search(text):
            found.append(f"src: {'::'.join(path)} names `Settings` (read `http::HttpConfig`, "
                         "built in startup::wiring)")
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))
    allowed = set()
    allow_path = os.path.join(root, ALLOW_FILE)
    if os.path.exists(allow_path):
        for line in open(allow_path, encoding="utf-8"):
            line = line.split("#", 1)[0].strip()
            if line:
                allowed.add(line)
    problems = []
    for crate_root, entry, layered in (("src", "lib.rs", True), ("actors/src", "lib.rs", False)):
        modules = module_files(os.path.join(root, crate_root), entry)
        edges = edges_of(modules)
        for component in cycles(edges):
            names = ", ".join("::".join(p) for p in component)
            if f"circle: {names}" not in allowed:
                problems.append(f"{crate_root}: import circle among {names}")
        if layered:
            for source, targets in sorted(edges.items()):
                for target in sorted(targets):
                    low, high = layer(source), layer(target)
                    if low is not None and high is not None and high > low:
                        problems.append(f"{crate_root}: upward import {'::'.join(source)} -> "
                                        f"{'::'.join(target)}")
                    if low == 1 and target[0] in DOMAINS_NEVER_IMPORT:
                        problems.append(f"{crate_root}: the domain module {'::'.join(source)} "
                                        f"imports {'::'.join(target)} (take a config type "
                                        "built in startup::wiring)")
            problems.extend(settings_named(modules))
        problems.extend(long_functions(modules, root, allowed))
    for problem in problems:
        print(problem)
    if problems:
        print(f"structure check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("structure check: no import circle, no upward import, no function over "
          f"{MAX_LINES} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
