#!/usr/bin/env python3
"""A small stand-in for BitBake, enough to run meta-kiln's task functions.

BitBake itself is not installed where kiln's tests run. This parses the
subset of BitBake syntax meta-kiln's files use (assignments with = ?= ??= :=
+= =+ .= =. and :append/:prepend, "export", flags, inherit/include/require,
shell functions, python "def" functions; python blocks are skipped), expands
${VAR} and ${@python} the way BitBake's data_smart does (python first, then
variables, repeated until nothing changes; a reference to an unset variable
stays as it is), and writes the task's run script the way bb.build does: the
trap/"set -e" prologue, exported variables, the logging functions, every
shell function the task calls (transitively), the task function, "cd" to its
directory and the call.

Usage:
  bbexpand.py [--conf FILE]... [--set VAR=VALUE]... [--export VAR]...
              [--classpath DIR]... [--class FILE]... --task NAME
              [--body VAR] [--cwd DIR] [--get VAR]...

  --conf      configuration files (layer.conf, ...), parsed first
  --set       recipe assignments (VAR = "VALUE"), after the configuration
  --class     files inherited by the recipe, in order (after --set)
  --classpath where "inherit NAME" looks for NAME.bbclass; an inherit that is
              not found there is an error, unless listed with --ignore-inherit
  --task      the task function to run (do_image_oci, do_kiln_push, ...)
  --body      the variable holding its body when it differs (IMAGE_CMD:oci)
  --get       print the expanded value of VAR (or VAR[flag]) instead of a run script
"""
import argparse
import os
import re
import sys

VAR_RE = re.compile(r"\${[a-zA-Z0-9\-_+./~:]+?}")
PY_RE = re.compile(r"\${[\s]*@(?:{.*?}|.)+?}")
ASSIGN_RE = re.compile(
    r"^(?P<exp>export\s+)?(?P<var>[a-zA-Z0-9\-_+.${}/~:]+?)"
    r"(?:\[(?P<flag>[a-zA-Z0-9\-_+.][a-zA-Z0-9\-_+.@/]*)\])?"
    r"\s*(?P<op>\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)\s*(?P<q>['\"])(?P<value>.*)(?P=q)\s*$"
)
FUNC_RE = re.compile(r"^(?:fakeroot\s+)?(?P<name>[a-zA-Z0-9_\-:.${}]+)\s*\(\s*\)\s*\{\s*$")
PYFUNC_RE = re.compile(r"^(?:fakeroot\s+)?python\s*(?P<name>[a-zA-Z0-9_\-:.${}]*)\s*\(\s*\)\s*\{\s*$")


class ParseError(Exception):
    pass


class Data:
    """The datastore: values, flags, weak defaults, appends, functions."""

    def __init__(self):
        self.values = {}
        self.weak = {}
        self.appends = {}
        self.flags = {}
        self.exported = set()
        self.shell_funcs = set()
        self.defs = {}  # python "def" functions: name -> source

    # -- assignment
    def assign(self, var, op, value, flag=None):
        if flag is not None:
            cur = self.flags.setdefault(var, {}).get(flag, "")
            if op == "+=":
                value = (cur + " " + value) if cur else value
            elif op in ("?=", "??=") and cur:
                return
            self.flags[var][flag] = value
            return
        base, _, ovr = var.partition(":")
        if ovr in ("append", "prepend", "remove"):
            self.appends.setdefault(base, []).append((ovr, value))
            return
        if op == "??=":
            self.weak.setdefault(var, value)
        elif op == "?=":
            if var not in self.values:
                self.values[var] = value
        elif op == "=":
            self.values[var] = value
        elif op == ":=":
            self.values[var] = self.expand(value)
        elif op in ("+=", "=+", ".=", "=."):
            cur = self.values.get(var, "")
            self.values[var] = {
                "+=": (cur + " " + value) if cur else value,
                "=+": (value + " " + cur) if cur else value,
                ".=": cur + value,
                "=.": value + cur,
            }[op]
        else:
            raise ParseError("operator %s" % op)

    def raw(self, var):
        if var in self.values:
            v = self.values[var]
        elif var in self.weak:
            v = self.weak[var]
        elif var in self.appends:
            v = ""
        else:
            return None
        removes = []
        for kind, val in self.appends.get(var, []):
            if kind == "append":
                v += val
            elif kind == "prepend":
                v = val + v
            else:
                removes += val.split()
        if removes:
            v = " ".join(w for w in v.split() if w not in removes)
        return v

    # -- the datastore API that ${@...} code sees
    def getVar(self, var, expand=True):
        v = self.raw(var)
        if v is None or not expand:
            return v
        return self.expand(v, var)

    def getVarFlag(self, var, flag, expand=True):
        v = self.flags.get(var, {}).get(flag)
        return self.expand(v) if (v is not None and expand) else v

    def expand(self, s, varname=None, depth=0):
        if depth > 64:
            raise ParseError("expansion too deep (recursive?) in %r" % s)

        def python_sub(m):
            code = m.group()[3:-1]
            env = {"d": self}
            for src in self.defs.values():
                exec(src, env)
            return str(eval(code, env))

        def var_sub(m):
            key = m.group()[2:-1]
            if key == varname:
                raise ParseError("variable %s references itself" % key)
            v = self.raw(key)
            if v is None:
                return m.group()
            return self.expand(v, key, depth + 1)

        while "${" in s:
            old = s
            s = PY_RE.sub(python_sub, s)
            s = VAR_RE.sub(var_sub, s)
            if s == old:
                break
        return s


class Parser:
    def __init__(self, data, classpath, ignore_inherit, bbpath):
        self.d = data
        self.classpath = classpath
        self.ignore_inherit = set(ignore_inherit)
        self.bbpath = bbpath
        self.inherited = set()

    def find_class(self, name):
        for p in self.classpath:
            f = os.path.join(p, name + ".bbclass")
            if os.path.exists(f):
                return f
        return None

    def parse(self, path):
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            m = FUNC_RE.match(line)
            pm = PYFUNC_RE.match(line)
            if pm:  # python task/anonymous function: skipped
                while i < len(lines) and lines[i].rstrip() != "}":
                    i += 1
                i += 1
                continue
            if m and not line.startswith("python"):
                body = []
                while i < len(lines) and lines[i].rstrip() != "}":
                    body.append(lines[i])
                    i += 1
                if i >= len(lines):
                    raise ParseError("%s: function %s is not closed" % (path, m.group("name")))
                i += 1
                name = m.group("name")
                self.d.values[name] = "\n".join(body)
                self.d.shell_funcs.add(name)
                continue
            if line.startswith("def "):
                src = [line]
                while i < len(lines) and (lines[i].startswith((" ", "\t")) or not lines[i].strip()):
                    src.append(lines[i])
                    i += 1
                name = line[4:].split("(")[0].strip()
                self.d.defs[name] = "\n".join(src)
                continue
            # continuation lines
            while line.endswith("\\") and i < len(lines):
                line = line[:-1] + lines[i]
                i += 1
            stripped = line.strip()
            words = stripped.split()
            if words[0] == "inherit":
                for cls in self.d.expand(" ".join(words[1:])).split():
                    self.inherit(cls, path)
                continue
            if words[0] in ("include", "require"):
                self.include(self.d.expand(" ".join(words[1:])), path, words[0] == "require")
                continue
            if words[0] in ("addtask", "deltask", "EXPORT_FUNCTIONS", "addhandler"):
                continue
            if words[0] == "export" and len(words) == 2:
                self.d.exported.add(words[1])
                continue
            am = ASSIGN_RE.match(stripped)
            if not am:
                raise ParseError("%s: cannot parse: %s" % (path, stripped))
            var = am.group("var")
            if am.group("exp"):
                self.d.exported.add(var)
            self.d.assign(var, am.group("op"), am.group("value"), am.group("flag"))

    def inherit(self, cls, from_path):
        if cls in self.inherited:
            return
        f = self.find_class(cls)
        if f is None:
            if cls in self.ignore_inherit:
                return
            raise ParseError("%s: inherit %s: no %s.bbclass in %s" % (from_path, cls, cls, self.classpath))
        self.inherited.add(cls)
        self.parse(f)

    def include(self, name, from_path, required):
        # like bb.parse.resolve_file: the including file's directory, then BBPATH
        bbpath = self.bbpath + [p for p in (self.d.getVar("BBPATH") or "").split(":") if p]
        cands = [os.path.join(os.path.dirname(from_path), name)] + [os.path.join(p, name) for p in bbpath]
        if os.path.isabs(name):
            cands = [name]
        for c in cands:
            if os.path.exists(c):
                self.parse(c)
                return
        if required:
            raise ParseError("%s: require %s: not found" % (from_path, name))
        # "include" skips a file it cannot find, as BitBake does.


LOGGING = r'''bbnote() { echo "NOTE: $*"; }
bbwarn() { echo "WARNING: $*"; }
bbplain() { echo "$*"; }
bbdebug() { :; }
bberror() { echo "ERROR: $*"; }
bbfatal() { echo "ERROR: $*"; exit 1; }
'''

PROLOGUE = '''#!/bin/sh

# Emit a useful diagnostic if something fails:
bb_sh_exit_handler() {
    ret=$?
    if [ "$ret" != 0 ]; then
        echo "WARNING: exit code $ret from a shell command."
    fi
    exit $ret
}
trap 'bb_sh_exit_handler' 0
set -e
'''


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def run_script(d, task, body_var, cwd):
    body = d.getVar(body_var or task)
    if body is None:
        raise ParseError("no function %s" % (body_var or task))
    # the shell functions the task calls, transitively (bb.data.emit_func)
    funcs = []
    todo = [body]
    seen = set()
    while todo:
        text = todo.pop()
        for name in sorted(d.shell_funcs):
            if name in seen or ":" in name:
                continue
            if re.search(r"(^|[\s;|&(`])%s($|[\s;|&)`])" % re.escape(name), text, re.M):
                seen.add(name)
                fb = d.getVar(name)
                funcs.append((name, fb))
                todo.append(fb)
    out = [PROLOGUE]
    for var in sorted(d.exported):
        v = d.getVar(var)
        if v is not None:
            out.append("export %s=%s\n" % (var, shell_quote(v)))
    out.append(LOGGING)
    for name, fb in funcs:
        out.append("%s() {\n%s\n}\n" % (name, fb))
    out.append("%s() {\n%s\n}\n" % (task, body))
    if cwd:
        out.append("cd %s\n" % shell_quote(cwd))
    out.append("%s\n\n# cleanup\nret=$?\ntrap '' 0\nexit $ret\n" % task)
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conf", action="append", default=[])
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--export", action="append", default=[])
    ap.add_argument("--classpath", action="append", default=[])
    ap.add_argument("--bbpath", action="append", default=[])
    ap.add_argument("--ignore-inherit", action="append", default=[])
    ap.add_argument("--class", dest="classes", action="append", default=[])
    ap.add_argument("--task")
    ap.add_argument("--body")
    ap.add_argument("--cwd")
    ap.add_argument("--get", action="append", default=[])
    a = ap.parse_args()

    d = Data()
    p = Parser(d, a.classpath, a.ignore_inherit, a.bbpath)
    try:
        for f in a.conf:
            p.parse(f)
            if os.path.basename(f) == "layer.conf":
                # BitBake sets LAYERDIR while it parses a layer.conf, then
                # expands every reference to it in place.
                layerdir = os.path.dirname(os.path.dirname(os.path.abspath(f)))
                for store in (d.values, d.weak):
                    for k, v in store.items():
                        store[k] = v.replace("${LAYERDIR}", layerdir)
        for s in a.set:
            var, _, val = s.partition("=")
            d.assign(var, "=", val)
        d.exported.update(a.export)
        for f in a.classes:
            if f.endswith(".bbclass") and os.path.sep not in f:
                p.inherit(f[:-8], "--class")
            else:
                p.parse(f)
        if a.get:
            for v in a.get:
                fm = re.match(r"^(.*)\[(.*)\]$", v)
                val = d.getVarFlag(fm.group(1), fm.group(2)) if fm else d.getVar(v)
                print("" if val is None else val)
            return 0
        if not a.task:
            ap.error("--task or --get is required")
        sys.stdout.write(run_script(d, a.task, a.body, a.cwd))
    except ParseError as e:
        print("bbexpand: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
