"""Where output goes: lakeops's own lines to the terminal, everyone else's to a log file.

Spark's JVM (log4j, DAGScheduler warnings), its Python workers, XGBoost's tracker,
MLflow's database set-up and registry messages and matplotlib's font cache all
write to the process's standard streams, at the C level, from child processes or
with a Python ``print`` to ``sys.stderr``: standard error. :func:`redirect_chatter`
points file descriptor 2 and ``sys.stderr`` at the log file and keeps a copy of
the terminal's descriptor for lakeops's own log lines and errors (:func:`terminal`).
Standard output stays as it is: a command's results (``lakeops sql ... > out.csv``)
and the demo's lines. Third-party Python loggers go to the file only. With ``-v``
nothing is redirected and every logger prints.

The file is ``<lakehouse>/_logs/lakeops.log`` for a lakehouse folder, and
``<temp dir>/lakeops/lakeops.log`` for one on object storage
(``LAKEOPS_LOG_DIR`` overrides both). Writes no tables.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

#: The lakehouse folder holding the log (the demo's reset leaves it alone).
LOG_FOLDER = "_logs"
LOG_FILE = "lakeops.log"

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class _State:
    """What :func:`configure` and :func:`redirect_chatter` set up in this process."""

    console: logging.StreamHandler | None = None
    handlers: list[logging.Handler] = field(default_factory=list)
    armed: bool = False
    file: Path | None = None
    terminal: TextIO | None = None


_state = _State()


def log_path(lake_root: str | Path) -> Path:
    """The log file for a lakehouse root (a folder, or an object-store URI)."""
    override = os.environ.get("LAKEOPS_LOG_DIR")
    if override:
        return Path(override) / LOG_FILE
    root = str(lake_root)
    if "://" in root:  # object storage: a log is appended to, which an object cannot be
        return Path(tempfile.gettempdir()) / "lakeops" / LOG_FILE
    return Path(root) / LOG_FOLDER / LOG_FILE


def configure(verbosity: int, *, redirect: bool = False) -> None:
    """Set up logging for a command (the CLI calls this once).

    ``verbosity``: 0 the default (INFO lines), below 0 quieter (warnings only),
    above 0 everything, from every library. ``redirect``: once the command opens the
    lakehouse (:func:`redirect_chatter`), send everyone else's output to the log file.
    """
    global _state
    root = logging.getLogger()
    for handler in _state.handlers:  # ours, from an earlier call in this process
        root.removeHandler(handler)
    _state = _State()
    if root.handlers and not redirect:
        # Someone else set logging up (a test runner, a program calling main()): leave it to them.
        return
    root.setLevel(logging.DEBUG if verbosity > 0 else logging.INFO)
    logging.getLogger("py4j").setLevel(logging.WARNING)  # every gateway call at INFO
    logging.captureWarnings(True)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
    console.setLevel(logging.INFO if verbosity == 0 else logging.WARNING if verbosity < 0 else logging.DEBUG)
    if verbosity <= 0:
        console.addFilter(_ours)
    root.addHandler(console)
    _state = _State(console=console, handlers=[console], armed=redirect and verbosity <= 0)


def redirect_chatter(lake_root: str | Path) -> Path | None:
    """Send Spark's, MLflow's and XGBoost's output to the lakehouse's log file, when the CLI asked
    for it (:func:`configure`); call it before the JVM starts. Returns the log file, or ``None``."""
    if not _state.armed or _state.file is not None or _state.console is None:
        return _state.file
    log_file = log_path(lake_root)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    stream = open(log_file, "a", buffering=1, encoding="utf-8")  # open for the rest of the process
    terminal_err = _redirect_descriptors(stream)
    console = _state.console
    console.setStream(terminal_err)
    _state.terminal = terminal_err
    to_file = logging.StreamHandler(stream)
    to_file.setFormatter(logging.Formatter(_FORMAT))
    logging.getLogger().addHandler(to_file)
    _state.handlers = [console, to_file]
    # MLflow draws artifact progress bars on sys.stderr, which is the terminal's, and (unless told
    # not to before it is imported) gives its loggers their own handler on it.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    _state.file = log_file
    logging.getLogger("lakeops").debug("Spark, MLflow and XGBoost output goes to %s", log_file)
    return log_file


def _ours(record: logging.LogRecord) -> bool:
    """lakeops's records, and anyone's warnings once nothing else shows them."""
    return record.name == "lakeops" or record.name.startswith("lakeops.") or (
        _state.file is None and record.levelno >= logging.WARNING)


def redirected() -> Path | None:
    """The log file the chatter goes to, or ``None`` when it reaches the terminal."""
    return _state.file


def terminal() -> TextIO:
    """Where lakeops's errors go: the terminal's standard error, whether or not the chatter is redirected."""
    return _state.terminal if _state.terminal is not None else sys.stderr


def restore() -> None:
    """``sys.stderr`` back to the terminal (the CLI's last step: a crash's traceback must be seen)."""
    if _state.terminal is not None:
        sys.stderr = _state.terminal


def _redirect_descriptors(stream: TextIO) -> TextIO:
    """Descriptor 2 and ``sys.stderr`` to ``stream``. Returns a stream on the terminal's standard error."""
    sys.stderr.flush()
    terminal_err = os.dup(2)
    os.dup2(stream.fileno(), 2)
    err = os.fdopen(terminal_err, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8")
    sys.stderr = stream
    return err
