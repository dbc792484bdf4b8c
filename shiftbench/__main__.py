"""``python -m shiftbench <command>``: the command-line entry point.

Each command lives in its own module and is imported lazily, so that
``python -m shiftbench compressors`` does not compile the method engine.
"""
import importlib
import sys

COMMANDS = {
    # name: (module, function, one-line help)
    "compressors": ("shiftbench.compressors.cli", "main", "list every compressor, its class, constants and bit cost"),
    "verify-compressors": ("shiftbench.compressors.verify", "main", "measure every compressor's constants: claimed vs measured"),
    "methods": ("shiftbench.harness.cli", "methods_main", "list the methods, their parameters and theorem"),
    "run": ("shiftbench.harness.cli", "run_main", "run one experiment and write its trace"),
    "sweep": ("shiftbench.harness.cli", "sweep_main", "run a grid of experiments (resumable)"),
    "problems": ("shiftbench.problems.cli", "main", "list the problems and their constants"),
    "results": ("shiftbench.store", "main", "export a results store (one row per finished run) as CSV or parquet"),
    "plot": ("shiftbench.plot", "main", "plot run traces or sweep results (mean over seeds, band)"),
}


def usage():
    lines = ["usage: python -m shiftbench [--plugin FILE]... <command> [options]", "",
             "  --plugin FILE        import this Python file first (e.g. one that calls",
             "                       shiftbench.register_compressor); repeatable", "",
             "commands:"]
    for name, (_, _, h) in COMMANDS.items():
        lines.append(f"  {name:20s} {h}")
    lines.append("")
    lines.append("Also: python -m shiftbench.table1, python -m shiftbench.figures, "
                 "python -m shiftbench.classes, python -m shiftbench.perf")
    return "\n".join(lines)


def load_plugin(path):
    """Import the Python file ``path`` as a module (its top level runs once)."""
    import importlib.util
    import os
    p = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(p):
        raise ValueError(f"--plugin {path!r}: no such file")
    name = "shiftbench_plugin_" + "".join(c if c.isalnum() else "_"
                                         for c in os.path.splitext(os.path.basename(p))[0])
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise ValueError(f"--plugin {path!r}: not an importable Python file")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception as e:  # noqa: BLE001 - one line, not the plugin's traceback
        sys.modules.pop(name, None)
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(f"--plugin {path!r} failed: {type(e).__name__}: {msg}") from None
    return mod


def _plugins(argv):
    """Strip leading ``--plugin FILE`` / ``--plugin=FILE`` options; returns
    (files, rest)."""
    files = []
    while argv and (argv[0] == "--plugin" or argv[0].startswith("--plugin=")):
        if argv[0] == "--plugin":
            if len(argv) < 2:
                raise ValueError("--plugin needs a file: python -m shiftbench --plugin FILE "
                                 "<command> ...")
            files.append(argv[1])
            argv = argv[2:]
        else:
            files.append(argv[0].split("=", 1)[1])
            argv = argv[1:]
    return files, argv


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        files, argv = _plugins(argv)
        for f in files:
            load_plugin(f)
    except ValueError as e:
        print(f"shiftbench: {e}", file=sys.stderr)
        return 2
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    cmd = argv[0]
    if cmd not in COMMANDS:
        print(f"shiftbench: unknown command {cmd!r}; allowed: {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    mod, fn, _ = COMMANDS[cmd]
    try:
        func = getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError):
        print(f"shiftbench: command {cmd!r} is not available in this build", file=sys.stderr)
        return 2
    try:
        return func(argv[1:]) or 0
    except BrokenPipeError:
        # output piped into e.g. `head`: stop quietly, as Unix tools do
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        # Ctrl-C outside a compiled loop (import, compilation, setup): one line
        print(f"shiftbench {cmd}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
