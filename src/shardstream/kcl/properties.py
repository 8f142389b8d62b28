"""Java ``.properties`` files: the parser the MultiLangDaemon configuration is read with.

One job: turn the text of a ``.properties`` file into a dict, following
``java.util.Properties.load`` (comments, continuations, escapes).  What the
keys mean is :mod:`shardstream.kcl.config`'s business.
"""

from __future__ import annotations

import re

__all__ = ["parse_properties"]

_WHITESPACE = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def parse_properties(text: str) -> dict[str, str]:
    """Parse the text of a Java ``.properties`` file (``java.util.Properties.load`` rules).

    Lines whose first non-blank character is ``#`` or ``!`` are comments; a
    key ends at the first unescaped ``=``, ``:`` or blank, and the value is
    the rest of the line after blanks and one optional ``=``/``:``; a line
    ending in an odd number of backslashes continues on the next one (whose
    leading blanks are dropped); ``\\t``, ``\\n``, ``\\r``, ``\\f`` and
    ``\\uXXXX`` are escapes and a backslash before any other character
    stands for that character.  A repeated key keeps its last value.

    Parameters
    ----------
    text : str

    Returns
    -------
    dict of str to str

    Raises
    ------
    ValueError
        A malformed ``\\uXXXX`` escape.

    Examples
    --------
    >>> parse_properties('''# comment
    ... ! another
    ... executableName = python app.py
    ... streamName: orders
    ... applicationName   billing
    ... long = a, \\\\
    ...        b
    ... ''')
    {'executableName': 'python app.py', 'streamName': 'orders', 'applicationName': 'billing', 'long': 'a, b'}
    """
    lines = re.split(r"\r\n|\r|\n", text)
    props: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i].lstrip(_WHITESPACE)
        i += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line):
            line = line[:-1]
            if i >= len(lines):
                break
            line += lines[i].lstrip(_WHITESPACE)
            i += 1
        key, value = _split_key_value(line)
        props[_unescape(key)] = _unescape(value)
    return props


def _continues(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


def _split_key_value(line: str) -> tuple[str, str]:
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c in "=:" or c in _WHITESPACE:
            break
        i += 1
    key = line[:i]
    j = i
    while j < len(line) and line[j] in _WHITESPACE:
        j += 1
    if j < len(line) and line[j] in "=:":
        j += 1
    while j < len(line) and line[j] in _WHITESPACE:
        j += 1
    return key, line[j:]


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) != 4 or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError(f"Malformed \\uxxxx encoding in {text!r}")
            out.append(chr(int(digits, 16)))
            i += 6
        else:
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
    return "".join(out)
