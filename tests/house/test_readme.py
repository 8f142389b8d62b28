"""The README's Python examples run, in order, in one namespace, and show what they print.

The README's convention for outputs, checked here: a comment that follows an expression
statement is its output (what the statement prints if it is a ``print(...)`` call, else the
``repr`` of its value): either the comment at the end of the statement's last line, or, when
there is none, the comment lines directly below it (no blank line between). As in doctest,
``...`` matches anything (ELLIPSIS) and any run of whitespace matches any other
(NORMALIZE_WHITESPACE), so a long output may wrap over several ``#`` lines. Explanations go
anywhere else: above a statement (after a blank line, or after a statement that shows its
output at the end of its line), or after an assignment, an import or a compound statement's
header.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import io
import pathlib
import re
import tokenize
from dataclasses import dataclass, field

import pytest

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass
class Shown:
    """One output the README shows: the statement's README line and what the comment says."""

    line: int
    source: str
    want: str
    got: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int  # README line of the block's first code line
    source: str


def python_blocks(text: str) -> list[Block]:
    blocks = []
    for m in re.finditer(r"```python\n(.*?)```", text, flags=re.S):
        blocks.append(Block(text.count("\n", 0, m.start(1)) + 1, m.group(1)))
    return blocks


def _comment_text(comment: str) -> str:
    return comment[1:].removeprefix(" ")


def instrument(block: Block, shown: list[Shown]) -> ast.Module:
    """Parse ``block``; wrap each expression statement that has an output comment so its output is recorded."""
    lines = block.source.splitlines()
    comments: dict[int, str] = {}  # 1-based row -> the comment on it
    for tok in tokenize.generate_tokens(io.StringIO(block.source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string
    tree = ast.parse(block.source)

    class Wrap(ast.NodeTransformer):
        def visit_Expr(self, node: ast.Expr):
            row = node.end_lineno
            if row in comments and not lines[row - 1].lstrip().startswith("#"):
                parts = [_comment_text(comments[row])]  # at the end of its line: that line is all of it
            else:
                parts, below = [], row + 1
                while below <= len(lines) and lines[below - 1].lstrip().startswith("#"):
                    parts.append(_comment_text(comments[below]))
                    below += 1
            if not parts:
                return node
            key = len(shown)
            shown.append(
                Shown(block.line + node.lineno - 1, ast.get_source_segment(block.source, node), "\n".join(parts) + "\n")
            )
            value = node.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "print":
                call = ast.Call(
                    ast.Name("__readme_print__", ast.Load()),
                    [ast.Constant(key), ast.Lambda(ast.arguments([], [], None, [], [], None, []), value)],
                    [],
                )
            else:
                call = ast.Call(ast.Name("__readme_show__", ast.Load()), [ast.Constant(key), value], [])
            return ast.copy_location(ast.Expr(ast.copy_location(call, node)), node)

    return ast.fix_missing_locations(Wrap().visit(tree))


def run_readme(text: str, namespace: dict) -> list[Shown]:
    """Run every python block of ``text`` in ``namespace``; the outputs shown, with what was got."""
    shown: list[Shown] = []

    def show(key: int, value):
        shown[key].got.append(repr(value) + "\n")

    def show_print(key: int, thunk):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            thunk()
        shown[key].got.append(out.getvalue())

    namespace.update(__readme_show__=show, __readme_print__=show_print)
    for i, block in enumerate(python_blocks(text)):
        code = compile(instrument(block, shown), f"README.md[python block {i}, line {block.line}]", "exec")
        try:
            exec(code, namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"README python block {i} (line {block.line}) failed: {exc!r}\n{block.source}")
    return shown


def mismatches(shown: list[Shown]) -> list[str]:
    checker = doctest.OutputChecker()
    out = []
    for s in shown:
        if not s.got:
            out.append(f"README line {s.line}: {s.source!r} never ran, so its output {s.want!r} is unchecked")
        for got in s.got:
            if not checker.check_output(s.want, got, FLAGS):
                out.append(f"README line {s.line}: {s.source}\n    README shows: {s.want!r}\n    it gives:     {got!r}")
    return out


def test_readme_has_examples():
    assert len(python_blocks(README.read_text(encoding="utf-8"))) >= 5


def test_readme_examples_run_and_show_what_they_print():
    namespace: dict = {}
    shown = run_readme(README.read_text(encoding="utf-8"), namespace)
    assert len(shown) >= 20, "the README shows fewer outputs than it did: is the convention still recognised?"
    problems = mismatches(shown)
    assert not problems, "\n".join(problems)
    assert namespace["stream"].read_table().num_rows > 100_000


SAMPLE = """
```python
x = [1, 2, 3]          # an explanation after an assignment
len(x)                 # 3
print(sum(x), "items") # 6 items

# an explanation above a statement
x.append(4)
len(x)                 # 4
# an explanation, since the output above is on its line
{"a": x, "b": "long"}
# {'a': [1, 2, 3, 4],
#  'b': ...}
if len(x) > 9:
    print("never")     # never
```
"""


def test_the_checker_compares_outputs_and_ignores_explanations():
    shown = run_readme(SAMPLE, {})
    assert [(s.line, s.want) for s in shown] == [
        (4, "3\n"),
        (5, "6 items\n"),
        (9, "4\n"),
        (11, "{'a': [1, 2, 3, 4],\n 'b': ...}\n"),
        (15, "never\n"),
    ]
    assert mismatches(shown) == ["README line 15: 'print(\"never\")' never ran, so its output 'never\\n' is unchecked"]


@pytest.mark.parametrize(
    "old, new",
    [("# 3\n", "# 4\n"), ("# 6 items", "# 6 things"), ("'b': ...}", "'b': 'short'}"), ("# {'a'", "# ['a'")],
)
def test_the_checker_fails_when_an_output_changes(old, new):
    changed = SAMPLE.replace(old, new, 1).replace("if len(x) > 9:", "if len(x) > 0:")
    assert changed != SAMPLE
    problems = mismatches(run_readme(changed, {}))
    assert len(problems) == 1 and "README shows" in problems[0]
