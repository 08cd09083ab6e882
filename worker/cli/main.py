"""`clinic-worker`: the operator's command line."""

from __future__ import annotations

import difflib
import re
import sys
from typing import Annotated, Any

import typer

# typer runs on its own copy of click (since 0.2x): its exceptions are these, not click's.
from typer._click.exceptions import (
    BadParameter,
    ClickException,
    MissingParameter,
    NoArgsIsHelpError,
    NoSuchOption,
    UsageError,
)

from worker.cli import (
    alerts,
    appointments,
    audit,
    import_csv,
    keys,
    messages,
    ops,
    patients,
    questionnaires,
    replies,
)
from worker.cli.context import CliContext
from worker.cli.demo import LOCAL_REDIS, run_demo
from worker.cli.output import say_error
from worker.db.errors import describe, our_error
from worker.lib.actors import clean_actor
from worker.lib.errors import ClinicWorkerError, ConfigError

BY_HELP = "Who is acting, for the audit trail (default: OS user); before or after the command."
USAGE_EXIT = 2

app = typer.Typer(
    help="Appointment reminders and check-ins by SMS for outpatient clinics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(ops.db_app, name="db")
app.add_typer(patients.app, name="patients")
app.add_typer(appointments.app, name="appointments")
app.add_typer(messages.app, name="messages")
app.add_typer(messages.send_app, name="send")
app.add_typer(replies.app, name="replies")
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(questionnaires.app, name="questionnaires")
app.add_typer(questionnaires.results_app, name="results")
app.add_typer(alerts.app, name="alerts")
messages.send_app.command("checkin")(questionnaires.send_checkin)
appointments.app.command("import")(import_csv.import_)
app.command("worker", context_settings=ops.PASS_THROUGH)(ops.run_worker)
app.command("beat", context_settings=ops.PASS_THROUGH)(ops.run_beat)
app.command("web")(ops.run_web)
app.command("doctor")(ops.doctor)


@app.command("demo")
def demo(
    redis_url: Annotated[
        str,
        typer.Option(
            envvar="CLINIC_REDIS_URL",
            help="Redis to use if it answers (default: CLINIC_REDIS_URL, else the local one); "
            "else an in-process broker.",
        ),
    ] = LOCAL_REDIS,
) -> None:
    """Run the whole pipeline on throwaway defaults (console SMS) and finish in under a minute."""
    run_demo(redis_url)


@app.callback()
def root(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option("--by", help=BY_HELP)] = None,
) -> None:
    # Checked before any command runs, so a bad name writes nothing anywhere.
    ctx.obj = CliContext(by=None if by is None else clean_actor(by))


def _has_own_by(command: Any) -> bool:
    return any("--by" in getattr(param, "opts", ()) for param in getattr(command, "params", ()))


def _leaf_at(root: Any, args: list[str]) -> tuple[Any, int]:
    """The command `args` name (skipping the options before it) and where its own words begin."""
    command, at = root, 0
    while at < len(args) and getattr(command, "commands", None):
        word = args[at]
        if word == "--by":
            at += 2
        elif word.startswith("-"):
            at += 1
        elif word in (getattr(command, "commands", None) or {}):
            command, at = command.commands[word], at + 1
        else:
            break
    return command, at


def hoist_global_options(root: Any, args: list[str]) -> list[str]:
    """`patients list --by dana` read as `--by dana patients list`: a global option may come
    after the command. A command with a `--by` of its own (`alerts ack`, `replies resolve`:
    who took care of it) keeps it; theirs falls back to the global one."""
    command, at = _leaf_at(root, args)
    if _has_own_by(command) or getattr(command, "commands", None):
        return args
    rest, hoisted = args[at:], []
    end = rest.index("--") if "--" in rest else len(rest)  # after `--`: arguments for celery
    kept, n = [], 0
    while n < end:
        if rest[n] == "--by" and n + 1 < end:
            hoisted += rest[n : n + 2]
            n += 2
        elif rest[n].startswith("--by="):
            hoisted.append(rest[n])
            n += 1
        else:
            kept.append(rest[n])
            n += 1
    return [*hoisted, *args[:at], *kept, *rest[end:]] if hoisted else args


def _by_values(args: list[str]) -> set[str]:
    """The names given to `--by` in `args` (`--by NAME` or `--by=NAME`)."""
    found = {args[n + 1] for n, word in enumerate(args[:-1]) if word == "--by"}
    return found | {word.removeprefix("--by=") for word in args if word.startswith("--by=")}


def command_words(ctx: Any) -> str:
    """`alerts ack`: the command as typed after the program's name."""
    words: list[str] = []
    while ctx is not None and ctx.parent is not None:
        words.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(word for word in words if word)


def _param_name(param: Any) -> str:
    if getattr(param, "param_type_name", "") == "argument":
        return str(param.metavar or (param.name or "").upper())
    return " / ".join(param.opts)


def _unknown_command(exc: UsageError) -> str | None:
    """`unknown command 'lst'; did you mean 'list'?` (the closest of the group's commands)."""
    found = re.match(r"No such command '(.*?)'", exc.message)
    commands = getattr(exc.ctx.command, "commands", None) if exc.ctx is not None else None
    if found is None or not commands:
        return None
    name = found.group(1)
    closest = difflib.get_close_matches(name, list(commands), n=1)
    hint = f"; did you mean '{closest[0]}'?" if closest else ""
    return f"unknown command '{name}'{hint}"


def usage_line(exc: UsageError) -> str:
    """One line for a mistake on the command line: `alerts ack: missing option --by`."""
    if isinstance(exc, MissingParameter) and exc.param is not None:
        kind = exc.param_type or exc.param.param_type_name
        text = f"missing {kind} {_param_name(exc.param)}"
    elif isinstance(exc, NoSuchOption):
        options = ", ".join(sorted(exc.possibilities or ()))
        text = f"no such option {exc.option_name}" + (f"; did you mean {options}?" if options else "")
    elif isinstance(exc, BadParameter) and exc.param is not None:
        text = f"invalid value for {_param_name(exc.param)}: {exc.message}"
    else:
        text = _unknown_command(exc) or exc.format_message()
    text = " ".join(text.split()).rstrip(".")  # one line, whatever the parser wrote
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    where = command_words(exc.ctx)
    return f"{where}: {text}" if where else text


def run_app(args: list[str] | None = None) -> int:
    """Run the command line; every mistake in it is one `error:` line (exit 2), never a box."""
    command = typer.main.get_command(app)
    given = sys.argv[1:] if args is None else args
    hoisted = hoist_global_options(command, given)
    try:
        if len(_by_values(hoisted[: _leaf_at(command, hoisted)[1]])) > 1:
            raise UsageError("--by given twice with different names; give it once")
        code = command(args=hoisted, standalone_mode=False)
    except NoArgsIsHelpError:
        return USAGE_EXIT  # the help is printed already: nothing was asked for
    except UsageError as exc:
        say_error(usage_line(exc))
        return USAGE_EXIT
    except typer.Abort:
        say_error("aborted")
        return 1
    except ClickException as exc:
        say_error(" ".join(exc.format_message().split()))
        return exc.exit_code
    # Without standalone mode the code of `typer.Exit(n)` comes back (None or 0: success).
    return code if isinstance(code, int) else 0


def main() -> None:
    try:
        code = run_app()
    except ConfigError as exc:
        for problem in exc.problems:
            say_error(problem)
        sys.exit(2)
    except ClinicWorkerError as exc:
        say_error(str(exc))
        sys.exit(1)
    except Exception as exc:
        ours = our_error(exc)
        line = str(ours) if ours is not None else describe(exc)
        if line is None:
            raise
        say_error(line)
        sys.exit(1)
    if code:
        sys.exit(code)
