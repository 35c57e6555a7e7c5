"""The `t2a-edge` command: a click group whose verbs are imported only when used."""

from __future__ import annotations

import errno
import importlib
import sys

import click

from t2a_edge.core.errors import T2AError

# verb -> "module:attribute"; importing lazily keeps `t2a-edge --help` fast and torch-free. The product's
# verbs come first, then the recipe's (train, data) and the research lab's one group, which no product
# module imports: only `t2a-edge lab` loads t2a_edge.apps.lab.
VERBS = {
    "generate": "t2a_edge.apps.generate_cmd:generate",
    "convert": "t2a_edge.apps.convert_cmd:convert",
    "bench": "t2a_edge.apps.bench_cmd:bench",
    "eval": "t2a_edge.apps.eval_cmd:eval_group",
    "info": "t2a_edge.apps.info_cmd:info",
    "cache": "t2a_edge.apps.cache_cmd:cache",
    "native": "t2a_edge.apps.native_cmd:native",
    "train": "t2a_edge.apps.train_cmd:train",
    "data": "t2a_edge.apps.data_cmd:data",
    "lab": "t2a_edge.apps.lab.cli:lab",
}
PRODUCT_VERBS = ("generate", "convert", "bench", "eval", "info", "cache", "native")
SUMMARIES = {
    "generate": "Turn prompts into audio files.",
    "convert": "Lower a model to an edge runtime bundle.",
    "bench": "Time every backend and precision on this machine.",
    "eval": "Score a model or a folder of clips with the YAMNet judge.",
    "info": "Versions, backends, CPU features and paths.",
    "cache": "List or clean cached bundles and judge features.",
    "native": "Build the C++ ExecuTorch runner and check a bundle under it.",
    "train": "The recipe: train the codec, teacher and student; export a model.",
    "data": "The recipe: build and inspect the sound-effects corpus.",
    "lab": "Research probes (codec, phase, tokens, held-out loss, timings).",
}


class LazyGroup(click.Group):
    """A group that imports a verb's module only when that verb runs."""

    def list_commands(self, ctx):
        return list(VERBS)

    def get_command(self, ctx, name):
        target = VERBS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("t2a_edge"):
                return _unavailable(name)
            raise
        return getattr(module, attribute)

    def format_commands(self, ctx, formatter):
        # Listing verbs must not import them all (torch alone takes seconds).
        with formatter.section("Commands"):
            formatter.write_dl([(verb, SUMMARIES[verb]) for verb in VERBS])


def _unavailable(name):
    @click.command(name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args):
        raise T2AError(f"'{name}' is not available in this build of t2a-edge")

    return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="t2a-edge")
def cli():
    """Fast text-to-audio on laptops and phones."""


# Failures of the user's machine rather than of the code: one line naming the file, not a traceback.
MACHINE_ERRORS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
}


def machine_error_line(exc: OSError) -> str | None:
    """The one line for a full disk, a quota, a read-only or forbidden path; None for anything else."""
    what = MACHINE_ERRORS.get(exc.errno)
    if what is None:
        return None
    line = f"{what}: {exc.filename}" if exc.filename else what
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        line += " (free some space and run again; `t2a-edge cache list` shows what t2a-edge keeps)"
    return line


def os_error_line(exc: OSError) -> str | None:
    """The one line for an OS error: a machine failure's (machine_error_line), else, when it names a
    file, its reason and that file (a writer with no check of its own: `convert --out /proc/b`).
    None for one naming no file, which is more likely a bug than the user's input: its traceback stays."""
    line = machine_error_line(exc)
    if line is not None or not exc.filename:
        return line
    what = (exc.strerror or str(exc)).lower()
    return f"{what}: {exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")


def main(argv=None):
    """Entry point: user mistakes become one `error:` line on stderr and exit status 2."""
    try:
        cli.main(args=argv, prog_name="t2a-edge", standalone_mode=False)
    except T2AError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        # Click's own refusals (an unknown option, a bad value, a missing argument) are user mistakes
        # too: one line and exit 2, not click's usage block.
        message = " ".join(exc.format_message().split())
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if isinstance(exc, click.UsageError) and ctx else ""
        click.echo(f"error: {message}{hint}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except OSError as exc:
        line = os_error_line(exc)
        if line is None:
            raise
        click.echo(f"error: {line}", err=True)
        sys.exit(2)
    except SystemExit:
        raise


if __name__ == "__main__":
    main()
