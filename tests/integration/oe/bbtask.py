#!/usr/bin/env python3
# bbtask.py JOBS OUT: what the real BitBake says about recipes, for t-95.
#
# Run inside a BitBake build directory (oe-init-build-env's environment), as
# the user who runs BitBake. One tinfoil session (one configuration parse,
# with the parse cache) answers every job of JOBS, a file of JSON objects, one
# a line:
#   {"id": NAME, "recipe": PN or "file": PATH.bb, "appends": [BBAPPEND...], "config": {VAR: VALUE},
#    "set": {VAR: VALUE}, "get": [VAR or "VAR[flag]"...], "task": "do_TASK",
#    "script": PATH}
# "appends" parses the recipe with exactly these bbappends (instead of the
# layers' own); "config" assigns variables in the configuration the recipe is
# parsed with, as local.conf would (image.bbclass writes IMGDEPLOYDIR into the
# image task bodies at parse time: move it with IMGDEPLOYDIR:forcevariable);
# "set" assigns variables in the parsed recipe (as a last word, after the
# recipe and its classes); "get" expands variables and flags;
# "task" + "script" write the run script BitBake writes as
# ${T}/run.do_TASK.PID before it runs a shell task: shell_trap_code, every
# exported variable and the task's functions (bb.data.emit_func), cd into the
# last of the task's [dirs], the call. OUT gets one JSON object a line:
#   {"id": NAME, "ok": true, "values": {...}} or {"id": NAME, "ok": false, "error": TEXT}
# A recipe that fails to parse (bb.fatal in an anonymous function) gives
# "ok": false with BitBake's message.
import json
import logging
import os
import sys
import time


def bitbake_lib():
    # oe-init-build-env puts bitbake/bin in PATH.
    for d in os.environ.get('PATH', '').split(':'):
        if os.path.isfile(os.path.join(d, 'bitbake')):
            lib = os.path.join(os.path.dirname(os.path.abspath(d)), 'lib')
            if os.path.isdir(os.path.join(lib, 'bb')):
                return lib
    sys.exit('bbtask.py: no bitbake in PATH (source oe-init-build-env first)')


sys.path.insert(0, bitbake_lib())
import bb.build  # noqa: E402
import bb.data  # noqa: E402
import bb.tinfoil  # noqa: E402


def get_value(d, name):
    if name.endswith(']') and '[' in name:
        var, flag = name[:-1].split('[', 1)
        return d.getVarFlag(var, flag)
    return d.getVar(name)


def task_data(d, fn, task):
    # What bb.build._task_data does before a task runs: the task override.
    if hasattr(bb.build, '_task_data'):
        return bb.build._task_data(fn, task, d)
    ld = bb.data.createCopy(d)
    ld.setVar('OVERRIDES', 'task-%s:%s' % (task[3:].replace('_', '-'), d.getVar('OVERRIDES', False)))
    bb.data.expandKeys(ld)
    return ld


def write_run_script(d, fn, task, path):
    ld = task_data(d, fn, task)
    if not ld.getVarFlag(task, 'func'):
        raise RuntimeError('%s is no function of %s' % (task, d.getVar('PN')))
    if ld.getVarFlag(task, 'python'):
        raise RuntimeError('%s is a python task: no run script' % task)
    ld.delVarFlag('PWD', 'export')
    dirs = (ld.getVarFlag(task, 'dirs') or '').split()
    cwd = dirs[-1] if dirs else ld.getVar('B')
    with open(path, 'w') as script:
        script.write(bb.build.shell_trap_code())
        bb.data.emit_func(task, script, ld)
        if cwd:
            script.write("cd '%s'\n" % cwd)
        script.write('%s\n' % task)
        script.write("\n# cleanup\nret=$?\ntrap '' 0\nexit $ret\n")
    os.chmod(path, 0o755)


class ErrorRecorder(logging.Handler):
    """The ERROR messages BitBake logs (bb.fatal's text reaches tinfoil as a
    log record; the exception that follows carries none)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def main():
    jobs_file, out_file = sys.argv[1:3]
    jobs = [json.loads(line) for line in open(jobs_file) if line.strip()]
    parsed = {}
    with bb.tinfoil.Tinfoil(output=sys.stderr) as tinfoil, open(out_file, 'w') as out:
        tinfoil.prepare(quiet=2)
        errors = ErrorRecorder()
        logging.getLogger('BitBake').addHandler(errors)
        for job in jobs:
            res = {'id': job.get('id')}
            errors.messages = []
            try:
                pn = job.get('recipe') or job['file']
                appends = job.get('appends')
                config = job.get('config') or {}
                key = (pn, tuple(appends) if appends is not None else None,
                       tuple(sorted(config.items())))
                if key not in parsed:
                    fn = job.get('file') or tinfoil.get_recipe_file(pn)
                    cd = None
                    if config:
                        cd = bb.data.createCopy(tinfoil.config_data)
                        for var, value in config.items():
                            cd.setVar(var, value)
                    if appends is None:
                        parsed[key] = (fn, tinfoil.parse_recipe_file(fn, config_data=cd))
                    else:
                        parsed[key] = (fn, tinfoil.parse_recipe_file(fn, appends=True,
                                                                    appendlist=appends,
                                                                    config_data=cd))
                fn, rd = parsed[key]
                if rd.getVar('__SKIPPED'):
                    # a recipe that raised SkipRecipe: its reason is the answer
                    res['skipped'] = rd.getVar('__SKIPPED')
                d = bb.data.createCopy(rd)
                for var, value in (job.get('set') or {}).items():
                    d.setVar(var, value)
                res['values'] = {name: get_value(d, name) for name in job.get('get') or []}
                if job.get('task'):
                    write_run_script(d, fn, job['task'], job['script'])
                res['ok'] = True
            except Exception as e:  # BitBake's own errors reach us in many types
                # The server's log records come as events, maybe after the
                # exception, and not always first the one that says why: take
                # in what is queued until the events have stopped for a second
                # (up to 10 s).
                end = time.monotonic() + 10
                last = time.monotonic()
                while time.monotonic() < end:
                    event = tinfoil.wait_event(0.25)
                    if isinstance(event, logging.LogRecord):
                        errors.handle(event)
                        last = time.monotonic()
                    elif errors.messages and time.monotonic() - last >= 1:
                        break
                res['ok'] = False
                res['error'] = '\n'.join(errors.messages + ['%s: %s' % (type(e).__name__, e)])
            out.write(json.dumps(res) + '\n')
            out.flush()


if __name__ == '__main__':
    main()
