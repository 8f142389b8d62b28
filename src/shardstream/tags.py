"""Stream tags with Kinesis's limits and messages.

A stream holds at most 50 tags; keys are 1-128 characters and values 0-256,
made of Unicode letters, digits, spaces and ``_ . / = + - % @ :`` ("white
space" is the space character only: a tab or a newline is refused), and keys
may not start with ``aws:`` (AWS reserves it).  RemoveTagsFromStream applies
the same character rule to its keys.  Tags are listed in key order, 50 at
most per page.
"""

from __future__ import annotations

import re

from . import validation as v
from .errors import InvalidArgumentException, SerializationException

__all__ = ["MAX_TAGS", "TagSet", "check_tag_keys", "check_tags"]

MAX_TAGS = 50
_ALLOWED = re.compile(r"[\w _.:/=+\-%@]*", re.UNICODE)
_INVALID_CHARACTERS = (
    "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
)


def _check_map(tags, path: str) -> list:
    if not isinstance(tags, dict):
        raise SerializationException("Tags must be a map of strings")
    errs: list = []
    if any(not isinstance(key, str) or not isinstance(value, str) for key, value in tags.items()):
        raise SerializationException("Tag keys and values must be strings")
    shown = "'{" + ", ".join(f"{k}={val}" for k, val in tags.items()) + "}'"
    if not 1 <= len(tags) <= 200:
        v.check_length(errs, path, tags, 1, 200, shown=shown)
    # A key or value of the wrong length is reported once for the whole map, as Kinesis does.
    if any(not 1 <= len(key) <= 128 for key in tags):
        errs.append(
            v.Violation(
                shown,
                path,
                "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
                "Member must have length greater than or equal to 1]",
            )
        )
    if any(len(value) > 256 for value in tags.values()):
        errs.append(
            v.Violation(
                shown,
                path,
                "Map value must satisfy constraint: [Member must have length less than or equal to 256, "
                "Member must have length greater than or equal to 0]",
            )
        )
    return errs


def check_tags(tags, path: str = "tags") -> None:
    """Check tags to add, as Kinesis does, before any stream state is touched.

    Parameters
    ----------
    tags : dict of str to str
    path : str
        The member's name in ValidationException messages.

    Raises
    ------
    SerializationException
        Not a map of strings.
    ValidationException
        Empty map or more than 200 entries, a key or value of the wrong length
        (reported once for the whole map).
    InvalidArgumentException
        Characters other than Unicode letters, digits, spaces and
        ``_ . / = + - % @ :``, or an ``aws:`` key.
    """
    v.raise_if_any(_check_map(tags, path))
    if any(not _ALLOWED.fullmatch(k) or not _ALLOWED.fullmatch(val) for k, val in tags.items()):
        raise InvalidArgumentException(_INVALID_CHARACTERS)
    reserved = sorted(k for k in tags if k.lower().startswith("aws:"))
    if reserved:
        raise InvalidArgumentException(f"Cannot start tags with 'aws:'. Invalid keys: {', '.join(reserved)}")


def check_tag_keys(tag_keys) -> None:
    """Check the keys of a RemoveTagsFromStream (or UntagResource) request.

    Parameters
    ----------
    tag_keys : list of str

    Raises
    ------
    SerializationException
        Not a list of strings.
    ValidationException
        Not 1 to 50 keys, or a key not 1-128 characters long (reported once
        for the whole list: ``Value '[a, <key>, b]' at 'tagKeys' failed to
        satisfy constraint: Member must satisfy constraint: [...]``).
    InvalidArgumentException
        A key with characters tags may not have (as :func:`check_tags`).
    """
    if not isinstance(tag_keys, (list, tuple)) or any(not isinstance(key, str) for key in tag_keys):
        raise SerializationException("TagKeys must be a list of strings")
    errs: list = []
    shown = "'[" + ", ".join(tag_keys) + "]'"
    if not 1 <= len(tag_keys) <= 50:
        v.check_length(errs, "tagKeys", tag_keys, 1, 50, shown=shown)
    if any(not 1 <= len(key) <= 128 for key in tag_keys):
        errs.append(
            v.Violation(
                shown,
                "tagKeys",
                "Member must satisfy constraint: [Member must have length less than or equal to 128, "
                "Member must have length greater than or equal to 1]",
            )
        )
    v.raise_if_any(errs)
    if any(not _ALLOWED.fullmatch(key) for key in tag_keys):
        raise InvalidArgumentException(_INVALID_CHARACTERS)


class TagSet:
    """The tags of one stream.

    Parameters
    ----------
    stream_name, account_id : str
        For error messages.
    """

    def __init__(self, stream_name: str, account_id: str):
        self._name = stream_name
        self._account = account_id
        self._tags: dict[str, str] = {}

    def as_dict(self) -> dict[str, str]:
        """The tags as a new dict, in key order."""
        return dict(sorted(self._tags.items()))

    def __len__(self) -> int:
        return len(self._tags)

    def add(self, tags: dict) -> None:
        """Insert or overwrite tags; all or nothing.

        Parameters
        ----------
        tags : dict of str to str

        Raises
        ------
        SerializationException, ValidationException, InvalidArgumentException
            As :func:`check_tags`; InvalidArgumentException also for more than
            50 tags in total.
        """
        check_tags(tags)
        if not self.try_add(tags):
            raise self.too_many()

    def try_add(self, tags: dict) -> bool:
        """Insert or overwrite tags that passed :func:`check_tags` unless that would make more than 50.

        Parameters
        ----------
        tags : dict of str to str
            Already checked: nothing is checked here but the count.

        Returns
        -------
        bool
            Whether the tags were added (nothing changes when not).
        """
        if len(set(self._tags) | set(tags)) > MAX_TAGS:
            return False
        self._tags.update(tags)
        return True

    def too_many(self) -> InvalidArgumentException:
        """The error for more than 50 tags (worded as AWS words it, with its old limit of 10)."""
        return InvalidArgumentException(
            f"Failed to add tags to stream {self._name} under account {self._account} because a given stream "
            "cannot have more than 10 tags associated with it."
        )

    def remove(self, tag_keys) -> None:
        """Remove tags by key (unknown keys are ignored).

        Parameters
        ----------
        tag_keys : list of str

        Raises
        ------
        SerializationException, ValidationException, InvalidArgumentException
            As :func:`check_tag_keys` (nothing is removed).
        """
        check_tag_keys(tag_keys)
        for key in tag_keys:
            self._tags.pop(key, None)

    def list(self, exclusive_start_tag_key: str | None = None, limit: int | None = None) -> dict:
        """boto3's ListTagsForStream: one page of tags in key order.

        Parameters
        ----------
        exclusive_start_tag_key : str, optional
            List the keys after this one.
        limit : int, optional
            1 to 50 tags (default 50).

        Returns
        -------
        dict
            ``{"Tags": [{"Key", "Value"}...], "HasMoreTags": bool}``.

        Raises
        ------
        ValidationException
            A limit or start key out of range.
        """
        errs: list = []
        if limit is not None:
            v.check_int_range(errs, "limit", limit, 1, 50)
        if exclusive_start_tag_key is not None:
            v.check_length(errs, "exclusiveStartTagKey", exclusive_start_tag_key, 1, 128)
        v.raise_if_any(errs)
        keys = sorted(self._tags)
        if exclusive_start_tag_key is not None:
            keys = [k for k in keys if k > exclusive_start_tag_key]
        page = limit or MAX_TAGS
        return {
            "Tags": [{"Key": k, "Value": self._tags[k]} for k in keys[:page]],
            "HasMoreTags": len(keys) > page,
        }
