"""Publishing a part's methods under its owner's name.

:class:`~shardstream.Stream` and :class:`~shardstream.Engine` are made of
parts that each own one job and its state (a stream's settings, its
resharding, its reads; the engine's catalog, account settings and operation
families).  The boto3-shaped API stays on the owner: ``stream.split_shard``
is the ``split_shard`` of ``stream.resharding``.  :class:`delegate` says so in
one line of the owner's class body, instead of a forwarding method per call.
"""

from __future__ import annotations

import functools
import inspect

__all__ = ["delegate", "saves_metadata"]


class delegate:  # noqa: N801 - used like a decorator-made attribute
    """A method or property of a part, published under its owner's name.

    Parameters
    ----------
    part : str
        The owner's attribute that holds the part.
    part_class : type
        The part's class: read on the owner's class (``help(Stream.split_shard)``,
        ``inspect.signature``), the delegate is the part's own function, with its
        docstring and signature.  A plain attribute of the part's instances is
        published too when the class annotates it.

    Examples
    --------
    >>> class Tags:
    ...     def count(self) -> int:
    ...         "How many tags."
    ...         return 2
    >>> class Owner:
    ...     count = delegate("tags", Tags)
    ...     def __init__(self):
    ...         self.tags = Tags()
    >>> Owner().count()
    2
    >>> Owner.count.__doc__
    'How many tags.'
    """

    __slots__ = ("part", "part_class", "name", "method")

    def __init__(self, part: str, part_class: type):
        self.part = part
        self.part_class = part_class
        self.name = ""
        self.method = False

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        if not hasattr(self.part_class, name) and name not in getattr(self.part_class, "__annotations__", {}):
            raise TypeError(f"{owner.__name__}.{name}: {self.part_class.__name__} has no {name!r}")
        self.method = inspect.isfunction(inspect.getattr_static(self.part_class, name, None))

    def __get__(self, instance, owner=None):
        if instance is None:
            return getattr(self.part_class, self.name, self)
        value = getattr(getattr(instance, self.part), self.name)
        if self.method:
            # The part's bound method, kept on the instance: later calls find it in the
            # instance's __dict__ and cost no more than the owner's own methods.  (A
            # property or plain attribute of the part is read anew on every access.)
            instance.__dict__[self.name] = value
        return value


def saves_metadata(method):
    """Mark a part's method that changes what a durable stream keeps in ``stream.json``.

    After the method returns, the part's stream (``self.stream``) saves its
    metadata (a no-op for an in-memory stream).

    Parameters
    ----------
    method : callable
        A method of a part with a ``stream`` attribute.

    Returns
    -------
    callable
        The wrapped method (its name and docstring kept).
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        self.stream.save_metadata()
        return result

    return wrapper
