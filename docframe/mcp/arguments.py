"""A tool call's arguments checked against the tool's JSON schema, defaults filled in.

``jsonschema`` decides what is wrong; this module only words it so a model can act on
it, in one line that names the argument (``search: filters.page_from must be at least
1, got 0``). When several things are wrong, the one reported is the first met walking
the arguments in the order they were given, a value's own checks (type, enum, bounds,
required keys) before what is inside it, so one call always gets the same message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from docframe.errors import ToolArgumentError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

    from docframe.mcp.schemas import ToolSpec

# the order of the checks on one value, before anything inside it
_FIRST = ("type", "enum", "minimum", "maximum", "required", "minItems")


def check_arguments(spec: ToolSpec, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """``arguments`` checked against the tool's schema, with defaults filled in; a
    :class:`ToolArgumentError` names the argument and what was expected."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise ToolArgumentError(
            f"{spec.name}: arguments must be an object, got {arguments!r}",
            help="pass the arguments as a JSON object, as the tool's schema says",
        )
    errors = list(_validator_class()(spec.input_schema).iter_errors(arguments))
    if errors:
        first = min(errors, key=lambda error: _met_at(arguments, error))
        raise _argument_error(spec.name, first)
    out = dict(arguments)
    for key, prop in spec.input_schema.get("properties", {}).items():
        if key not in out and "default" in prop:
            out[key] = prop["default"]
    return out


@functools.cache
def _validator_class() -> type:
    """JSON Schema 2020-12, where any mapping is an object and a tuple an array too
    (callers in Python pass them; JSON never does)."""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine_many(
        {
            "object": lambda _, value: isinstance(value, Mapping),
            "array": lambda _, value: isinstance(value, (list, tuple)),
        }
    )
    return validators.extend(Draft202012Validator, type_checker=checker)


def _met_at(arguments: Mapping[str, Any], error: ValidationError) -> tuple[int, ...]:
    """Where ``error`` is met walking ``arguments`` in order: the position of each step
    of its path, then (a value's own checks first) the check's rank."""
    steps = []
    value: Any = arguments
    for step in error.absolute_path:
        steps.append(1 + _position(value, step))
        value = value[step]
    if error.validator == "additionalProperties":  # met at the first unknown key
        steps.append(1 + _position(value, _unknown(error)[0]))
    rank = _FIRST.index(error.validator) if error.validator in _FIRST else len(_FIRST)
    return (*steps, 0, rank)


def _position(value: Any, step: str | int) -> int:
    return list(value).index(step) if isinstance(value, Mapping) else int(step)


def _unknown(error: ValidationError) -> list[str]:
    """The keys an ``additionalProperties: false`` error is about, in the order given."""
    known = error.schema.get("properties", {})
    return [key for key in error.instance if key not in known]


def _argument_error(tool: str, error: ValidationError) -> ToolArgumentError:
    """``error`` as one line naming the argument (``filters.page_from``, ``paths[0]``)."""
    where = _where(error.absolute_path)
    value, check, expected = error.instance, error.validator, error.validator_value
    if check == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return ToolArgumentError(
            f"{tool}: {where} must be {' or '.join(names)}, got {json.dumps(value)[:80]}",
            help=f"see the {tool} tool's input schema",
        )
    if check == "enum":
        return ToolArgumentError(
            f"{tool}: {where} must be one of {', '.join(map(str, expected))}, got {value!r}",
            help=f"use one of: {', '.join(map(str, expected))}",
        )
    if check == "minimum":
        return ToolArgumentError(
            f"{tool}: {where} must be at least {expected}, got {value}",
            help=f"give {where} >= {expected}",
        )
    if check == "maximum":
        return ToolArgumentError(
            f"{tool}: {where} must be at most {expected}, got {value}",
            help=f"give {where} <= {expected}",
        )
    props = error.schema.get("properties", {})
    if check == "required":
        missing = next(key for key in expected if key not in value)
        return ToolArgumentError(
            f"{tool}: missing required argument {missing!r}",
            help=f"{tool} takes: {', '.join(props)}",
        )
    if check == "additionalProperties":
        return ToolArgumentError(
            f"{tool}: unknown argument {_unknown(error)[0]!r}",
            help=f"{tool} takes: {', '.join(props) or 'no arguments'}",
        )
    if check == "minItems":
        return ToolArgumentError(
            f"{tool}: {where} needs at least {expected} item(s)",
            help=f"see the {tool} tool's input schema",
        )
    return ToolArgumentError(  # a check the tools' schemas do not use today
        f"{tool}: {where}: {error.message}", help=f"see the {tool} tool's input schema"
    )


def _where(path: Sequence[str | int]) -> str:
    """The argument's name: ``k``, ``filters.page_from``, ``paths[0]``."""
    where = "arguments"
    for step in path:
        if isinstance(step, int):
            where += f"[{step}]"
        else:
            where = f"{where}.{step}" if where != "arguments" else step
    return where
