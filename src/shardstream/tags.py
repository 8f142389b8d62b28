"""Stream tags with Kinesis's limits and messages.

A stream holds at most 50 tags; keys are 1-128 characters and values 0-256,
made of Unicode letters, digits, white space and ``_ . / = + - % @ :``, and
keys may not start with ``aws:`` (AWS reserves it).  Tags are listed in key
order, 50 at most per page.
"""

from __future__ import annotations

import re

from . import validation as v
from .errors import InvalidArgumentException, SerializationException

__all__ = ["MAX_TAGS", "TagSet"]

MAX_TAGS = 50
_ALLOWED = re.compile(r"[\w\s_.:/=+\-%@]*", re.UNICODE)


def _check_map(tags, path: str) -> list:
    if not isinstance(tags, dict):
        raise SerializationException("Tags must be a map of strings")
    errs: list = []
    if not 1 <= len(tags) <= 200:
        shown = "'{" + ", ".join(f"{k}={val}" for k, val in tags.items()) + "}'"
        v.check_length(errs, path, tags, 1, 200, shown=shown)
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise SerializationException("Tag keys and values must be strings")
        if not 1 <= len(key) <= 128:
            errs.append(
                v.Violation(
                    f"'{{{key}={value}}}'",
                    path,
                    "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
                    "Member must have length greater than or equal to 1]",
                )
            )
        if len(value) > 256:
            errs.append(
                v.Violation(
                    f"'{{{key}={value}}}'",
                    f"{path}.{key}.member",
                    "Map value must satisfy constraint: [Member must have length less than or equal to 256, "
                    "Member must have length greater than or equal to 0]",
                )
            )
    return errs


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
        return dict(sorted(self._tags.items()))

    def __len__(self) -> int:
        return len(self._tags)

    def add(self, tags: dict) -> None:
        """Insert or overwrite tags; all or nothing.

        Raises
        ------
        ValidationException
            Empty map, key or value too long.
        InvalidArgumentException
            Bad characters, an ``aws:`` key, or more than 50 tags in total.
        """
        v.raise_if_any(_check_map(tags, "tags"))
        if any(not _ALLOWED.fullmatch(k) or not _ALLOWED.fullmatch(val) for k, val in tags.items()):
            raise InvalidArgumentException(
                "Some tags contain invalid characters. Valid characters: "
                "Unicode letters, digits, white space, _ . / = + - % @."
            )
        reserved = sorted(k for k in tags if k.lower().startswith("aws:"))
        if reserved:
            raise InvalidArgumentException(f"Cannot start tags with 'aws:'. Invalid keys: {', '.join(reserved)}")
        if len(set(self._tags) | set(tags)) > MAX_TAGS:
            raise InvalidArgumentException(
                f"Failed to add tags to stream {self._name} under account {self._account} because a given stream "
                f"cannot have more than {MAX_TAGS} tags."
            )
        self._tags.update(tags)

    def remove(self, tag_keys) -> None:
        """Remove tags by key (unknown keys are ignored)."""
        if not isinstance(tag_keys, (list, tuple)):
            raise SerializationException("TagKeys must be a list of strings")
        errs: list = []
        if not 1 <= len(tag_keys) <= 50:
            v.check_length(errs, "tagKeys", tag_keys, 1, 50, shown="'[" + ", ".join(map(str, tag_keys)) + "]'")
        for i, key in enumerate(tag_keys, 1):
            if not isinstance(key, str):
                raise SerializationException("TagKeys must be a list of strings")
            v.check_length(errs, f"tagKeys.{i}.member", key, 1, 128)
        v.raise_if_any(errs)
        for key in tag_keys:
            self._tags.pop(key, None)

    def list(self, exclusive_start_tag_key: str | None = None, limit: int | None = None) -> dict:
        """boto3's ListTagsForStream: ``{"Tags": [{"Key", "Value"}...], "HasMoreTags": bool}``."""
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
