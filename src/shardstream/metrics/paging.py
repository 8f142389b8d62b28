"""CloudWatch's MaxRecords / NextToken paging over an ordered listing.

A NextToken names the key of the last item of its page (base64 of JSON), so
a listing that changes between pages neither repeats nor skips what stayed.

Examples
--------
>>> from shardstream.metrics.paging import page
>>> first, token = page(["a", "b", "c"], str, max_records=2, next_token=None)
>>> first, page(["a", "b", "c"], str, max_records=2, next_token=token)
(['a', 'b'], (['c'], None))
"""

from __future__ import annotations

import base64
import binascii
import json

from ..errors import InvalidNextTokenException, InvalidParameterValueException

__all__ = ["page"]


def _after(token: str):
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode("ascii")))["after"]
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
        raise InvalidNextTokenException(f"The NextToken {token!r} is not valid.") from None


def page(items, key, max_records, next_token, *, descending: bool = False, default: int = 50, limit: int = 100):
    """One page of ``items`` (ordered by ``key``) and the token of the next, or None after the last.

    Parameters
    ----------
    items : list
        The whole listing, ordered by ``key`` (ascending, or descending with ``descending``).
    key : callable
        ``key(item)``: a JSON value unique to the item (a str, a number or a list: not a tuple,
        which would not compare with the list JSON gives back).
    max_records : int or None
        The page's size: 1 to ``limit`` (None: ``default``).
    next_token : str or None
        A token from an earlier page.
    descending : bool
        ``items`` are in descending order of ``key``.
    default, limit : int
        The default and largest page size.

    Returns
    -------
    (list, str or None)

    Raises
    ------
    InvalidParameterValueException
        ``max_records`` out of range.
    InvalidNextTokenException
        A token this function did not make.
    """
    size = default if max_records is None else max_records
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= limit:
        raise InvalidParameterValueException(f"The parameter MaxRecords must be between 1 and {limit}.")
    if next_token is not None:
        after = _after(next_token)
        try:
            items = [i for i in items if (key(i) < after if descending else key(i) > after)]
        except TypeError:
            raise InvalidNextTokenException(f"The NextToken {next_token!r} is not valid.") from None
    out = items[:size]
    if len(items) <= size:
        return out, None
    token = base64.urlsafe_b64encode(json.dumps({"after": key(out[-1])}).encode()).decode("ascii")
    return out, token
