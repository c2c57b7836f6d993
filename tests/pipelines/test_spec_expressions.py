"""Spec expressions cannot reach Python: every escape is refused when the spec loads, with
one line naming the step's ``expr`` key (the evaluator never sees it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.pipelines.errors import SpecError
from assay.pipelines.spec import load_spec

SPEC = """\
name: escapes
source: {paths: [uploads]}
schema:
  columns: [{name: amount, type: float64}, {name: label}]
sink: {path: out}
steps:
  - {op: normalize, columns: [label]}
  - op: derive
    column: out
    expr: %s
"""

ESCAPES = {
    "__import__('os').system('id')": "attribute access (.system)",
    "__import__('os')": "unknown function '__import__'",
    "__builtins__": "name '__builtins__' is not allowed",
    "().__class__.__mro__[1].__subclasses__()": "attribute access (.__subclasses__)",
    "amount.__class__": "attribute access (.__class__)",
    "label.real.imag.conjugate": "attribute access",
    "'{}'.format(amount)": "attribute access (.format)",
    "getattr(amount, '__class__')": "unknown function 'getattr'",
    "eval('1')": "unknown function 'eval'",
    "exec('import os')": "unknown function 'exec'",
    "open('/etc/passwd')": "unknown function 'open'",
    "globals()": "unknown function 'globals'",
    "type(amount)": "unknown function 'type'",
    "breakpoint()": "unknown function 'breakpoint'",
    "(lambda: 1)()": "only calls of known functions",
    "lambda: 1": "Lambda is not allowed",
    "[x for x in label]": "ListComp is not allowed",
    "{x for x in label}": "SetComp is not allowed",
    "(x for x in label)": "GeneratorExp is not allowed",
    "{x: 1 for x in label}": "DictComp is not allowed",
    "(y := amount)": "NamedExpr is not allowed",
    "label[0]": "Subscript is not allowed",
    "f'{label}'": "JoinedStr is not allowed",
    "b'bytes'": "constant b'bytes' is not allowed",
    "abs(*[amount])": "cannot be unpacked",
    "abs(**{})": "without keywords",
    "round(amount, ndigits=2)": "without keywords",
    "9 ** 9 ** 9": "exponent of ** must be a number literal",
    "amount ** 100000": "larger than 64",
    "2 ** -100000": "larger than 64",
    "'x' * 1000000000": "strings only support +",
    "'%s' % amount": "strings only support +",
    "round(amount, 10 ** 15)": "round()'s digits must be an integer literal",
    "round(amount, 1000000000000000)": "round()'s digits",
    "123456789012345678901234567890": "does not fit in 64 bits",
    "-" * 60 + "1": "nested deeper than 50",
    "amount + " * 700 + "1": "longer than 2000 characters",
}


@pytest.mark.parametrize(("expr", "problem"),
                         list(ESCAPES.items()))
def test_escape_refused_when_the_spec_loads(tmp_path: Path, expr: str, problem: str) -> None:
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(SPEC % _yaml_string(expr))
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{spec}: line 10: steps[1].derive.expr: "), message
    assert problem in message, message


def _yaml_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
