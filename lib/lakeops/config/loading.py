"""Reading ``conf/``: YAML layers, ``--set`` overrides, and errors that say where.

Layout::

    conf/base/lakeops.yaml          lake, Spark and MLflow settings
    conf/base/models/<model>.yaml   one file per model
    conf/base/quality/<suite>.yaml  one file per data-quality suite
    conf/<env>/...                  the same files, deep-merged over base

The environment comes from ``--env`` or ``LAKEOPS_ENV``; ``--set key.path=value``
overrides are applied last (values parsed as YAML), then ``--lake``. While merging,
every dotted key remembers which file or override set it (its *origin*), so that a
pydantic validation error, or a failed check of :mod:`lakeops.config.checks`,
becomes a :class:`~lakeops.errors.ConfigError` naming the file and the key.

Only the edge (the CLI, a job's ``main``) calls :func:`load_settings`; library
code receives the built :class:`~lakeops.config.schema.Settings`.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from lakeops.config.checks import Origin, check_model, check_quality_suites, check_suite
from lakeops.config.schema import (
    MODELS_DIR,
    QUALITY_DIR,
    SETTINGS_FILE,
    ModelConfig,
    Settings,
    SettingsFile,
    SuiteConfig,
)
from lakeops.errors import ConfigError
from lakeops.names import validate_name

C = TypeVar("C")
#: What one file under models/ or quality/ holds.
N = TypeVar("N", ModelConfig, SuiteConfig)


def default_conf_dir() -> Path:
    """``./conf`` when present, else the ``conf/`` beside the source tree."""
    local = Path("conf")
    if (local / "base").is_dir():
        return local
    return Path(__file__).resolve().parents[3] / "conf"  # lib/lakeops/config/loading.py -> the checkout


def load_settings(
    *,
    conf_dir: Path | str | None = None,
    env: str | None = None,
    overrides: Sequence[str] = (),
    lake_root: str | None = None,
) -> Settings:
    """Read base config, the env overlay, then ``overrides``; build :class:`Settings`.

    Args:
        conf_dir: the ``conf/`` folder (default: :func:`default_conf_dir`).
        env: overlay folder name under ``conf_dir``; ``None`` or ``"base"`` for none.
        overrides: ``key.path=value`` strings, e.g. ``spark.master=local[4]``.
        lake_root: replaces ``lake.root`` after everything else (``--lake``).

    Raises:
        ConfigError: naming the file or override and the key at fault.
    """
    conf_dir = Path(conf_dir) if conf_dir is not None else default_conf_dir()
    base = conf_dir / "base"
    if not (base / SETTINGS_FILE).is_file():
        raise ConfigError(
            f"no {base / SETTINGS_FILE}: point --conf (or LAKEOPS_CONF) at the project's conf/ folder"
        )
    layers = [base]
    env = env or "base"
    if env != "base":
        validate_name(env, kind="environment name")
        overlay = conf_dir / env
        if not overlay.is_dir():
            known = sorted(p.name for p in conf_dir.iterdir() if p.is_dir())
            raise ConfigError(f"unknown environment {env!r}: no folder {overlay} (found: {', '.join(known)})")
        layers.append(overlay)

    settings_doc: dict[str, Any] = {}
    origins: dict[str, str] = {}
    model_docs: dict[str, dict[str, Any]] = {}
    model_origins: dict[str, dict[str, str]] = {}
    suite_docs: dict[str, dict[str, Any]] = {}
    suite_origins: dict[str, dict[str, str]] = {}
    for layer in layers:
        path = layer / SETTINGS_FILE
        if path.is_file():
            _merge(settings_doc, _read_yaml(path), origins, str(path))
        for folder, docs, doc_origins in ((MODELS_DIR, model_docs, model_origins), (QUALITY_DIR, suite_docs, suite_origins)):
            for path in sorted((layer / folder).glob("*.yaml")):
                name = validate_name(path.stem, kind=f"file name ({path})")
                # "" is the file that first defined the model or suite: where a missing key is missing.
                doc_origins.setdefault(name, {"": str(path)})
                _merge(docs.setdefault(name, {}), _read_yaml(path), doc_origins[name], str(path))

    for item in overrides:
        key, value = _parse_override(item)
        if key.startswith("models."):
            parts = key.split(".", 2)
            if len(parts) < 3 or parts[1] not in model_docs:
                raise ConfigError(f"--set {item!r}: unknown model in key {key!r}")
            _set_path(model_docs[parts[1]], parts[2], value)
            model_origins[parts[1]][parts[2]] = f"--set {item}"
        else:
            _set_path(settings_doc, key, value)
            origins[key] = f"--set {item}"
    if lake_root is not None:
        settings_doc.setdefault("lake", {})["root"] = lake_root
        origins["lake.root"] = "--lake"

    sections = _build(SettingsFile, settings_doc, origins)
    suites = _build_named(SuiteConfig, suite_docs, suite_origins)
    for name, suite in suites.items():
        check_suite(suite, path=suite_origins[name][""])
    models = _build_named(ModelConfig, model_docs, model_origins)
    for name, model in models.items():
        origin = _origin_of(model_origins[name])
        check_model(model, origin=origin, project_dir=conf_dir.resolve().parent)
        check_quality_suites(model, suites=suites.keys(), origin=origin, conf_dir=conf_dir)
    return Settings(
        env=env, conf_dir=conf_dir, lake=sections.lake, spark=sections.spark, mlflow=sections.mlflow,
        maintenance=sections.maintenance,
        models=types.MappingProxyType(models), suites=types.MappingProxyType(suites),
    )


def _build_named(cls: type[N], docs: Mapping[str, Any], origins: Mapping[str, Mapping[str, str]]) -> dict[str, N]:
    """Build one ``cls`` per file; each must say the name its file has."""
    built = {}
    for name, doc in sorted(docs.items()):
        item = _build(cls, doc, origins[name])
        if item.name != name:
            raise ConfigError(f"{origins[name].get('name')}: name {item.name!r} must match the file name {name!r}")
        built[name] = item
    return built


# --------------------------------------------------------------------------- YAML and overrides


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(doc).__name__}")
    return doc


def _merge(target: dict[str, Any], source: Mapping[str, Any], origins: dict[str, str], origin: str, prefix: str = "") -> None:
    """Deep-merge ``source`` into ``target``, remembering which file set each key."""
    for key, value in source.items():
        if not isinstance(key, str):
            raise ConfigError(f"{origin}: key {key!r} under {prefix or 'the top level'} must be a string")
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value, origins, origin, path + ".")
        else:
            target[key] = dict(value) if isinstance(value, Mapping) else value
        origins[path] = origin


def _parse_override(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {item!r}: expected key.path=value, e.g. spark.master=local[4]")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


#: Sections whose keys themselves contain dots (Spark settings).
_FREEFORM_SECTIONS = ("spark.conf.",)


def _set_path(doc: dict[str, Any], key: str, value: Any) -> None:
    for section in _FREEFORM_SECTIONS:
        if key.startswith(section):
            parents, leaf = section.rstrip(".").split("."), key[len(section):]
            break
    else:
        *parents, leaf = key.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {part!r} is not a section")
    node[leaf] = value


def _origin(origins: Mapping[str, str], key: str) -> str:
    """Where ``key`` (or the nearest section above it) was set; ``alerts.rules[0].when`` looks up
    ``alerts.rules[0]``, then ``alerts`` (a list's items have no origins of their own)."""
    probe = key
    while probe:
        if probe in origins:
            return origins[probe]
        probe = probe.rpartition(".")[0]
    return origins.get("", "config")


def _origin_of(origins: Mapping[str, str]) -> Origin:
    return functools.partial(_origin, origins)


# --------------------------------------------------------------------------- building


@functools.cache
def _adapter(cls: type[C]) -> TypeAdapter[C]:
    return TypeAdapter(cls)


def _build(cls: type[C], doc: Mapping[str, Any], origins: Mapping[str, str]) -> C:
    """Validate ``doc`` as ``cls``; a validation error becomes a :class:`ConfigError`."""
    try:
        # A class is hashable, but mypy does not see type[C] (C unbounded) as Hashable, which typeshed's cache asks for.
        return _adapter(cls).validate_python(doc)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _config_error(exc, root=cls, origin=_origin_of(origins)) from None


#: How an error of each pydantic type reads as "expected ...".
_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "tuple_type": "a list",
    "dataclass_type": "a mapping",
    "dict_type": "a mapping",
    "mapping_type": "a mapping",
    "param_type": "a number, a string or true/false",  # lakeops.config.schema.Param
}


def _config_error(exc: ValidationError, *, root: type, origin: Origin) -> ConfigError:
    """The first of pydantic's errors (an unknown key first: a misspelt key is often also a
    missing one), said as the hand-written loader used to: file or override, dotted key, what
    was expected, what was given."""
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "unexpected_keyword_argument")
    message = _describe(errors[0], root=root, origin=origin)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ConfigError(message)


def _describe(error: ErrorDetails, *, root: type, origin: Origin) -> str:
    loc, kind = error["loc"], error["type"]
    if loc and loc[-1] == "[key]":  # a mapping's key (YAML allows `1:`), located as (..., key, "[key]")
        parent = _dotted(loc[:-2])
        return f"{origin(parent)}: {parent or 'the top level'}: key {error['input']!r} must be a string"
    key, parent = _dotted(loc), _dotted(loc[:-1])
    if kind == "unexpected_keyword_argument":
        allowed = _allowed_keys(root, loc[:-1])
        listed = f" (allowed under {parent or 'the top level'}: {', '.join(allowed)})" if allowed else ""
        return f"{origin(key)}: unknown key {key!r}{listed}"
    if kind == "missing":
        return f"{origin(parent)}: missing required key {key!r}"
    if kind == "literal_error":
        # pydantic says "'a', 'b' or 'c'"; the config's messages list the choices.
        head, sep, last = str(error.get("ctx", {}).get("expected", "")).rpartition(" or ")
        expected: str | None = f"one of {head}, {last}" if sep else f"one of {last}"
    else:
        expected = _EXPECTED.get(kind)
    where = key or "the top level"
    if expected is None:
        return f"{origin(key)}: {where}: {error['msg']}"
    return f"{origin(key)}: {where}: expected {expected}, got {error['input']!r}"


def _dotted(loc: Sequence[str | int]) -> str:
    """``("alerts", "rules", 0, "when")`` -> ``alerts.rules[0].when``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _allowed_keys(root: type, loc: Sequence[str | int]) -> list[str] | None:
    """The keys of the section at ``loc`` under ``root``, or None when ``loc`` is not a section."""
    hint: Any = root
    for part in loc:
        args = typing.get_args(hint)
        if dataclasses.is_dataclass(hint) and isinstance(part, str):
            hint = typing.get_type_hints(hint).get(part)
        elif typing.get_origin(hint) is tuple and isinstance(part, int):
            hint = args[0]
        elif typing.get_origin(hint) is Mapping and isinstance(part, str):
            hint = args[1]
        else:
            return None
    return [f.name for f in dataclasses.fields(hint)] if dataclasses.is_dataclass(hint) else None
