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
    "plot": ("shiftbench.plot", "main", "plot run traces or sweep results (mean over seeds, band)"),
}


def usage():
    lines = ["usage: python -m shiftbench <command> [options]", "", "commands:"]
    for name, (_, _, h) in COMMANDS.items():
        lines.append(f"  {name:20s} {h}")
    lines.append("")
    lines.append("Also: python -m shiftbench.table1, python -m shiftbench.figures, "
                 "python -m shiftbench.classes, python -m shiftbench.perf")
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
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


if __name__ == "__main__":
    sys.exit(main())
