"""A local key store standing in for KMS: 32-byte keys by key id, alias or ARN.

A durable stream that encrypts (StartStreamEncryption) seals each batch it
writes with one of these keys (:mod:`shardstream.storage.crypto`); reading
opens it with the same key.  :class:`KeyStore`'s one job is naming keys:
it resolves a key id, alias or ARN to its entry, knows each key's state
(enabled, disabled, pending deletion) and hands out the material, raising
Kinesis's KMS errors otherwise.

Where keys come from (:meth:`KeyStore.load`, ``Engine(keys=...)``,
``shardstream serve --kms-keys FILE``):

* a mapping ``{name: key}``;
* a path to a JSON document holding such a mapping;
* a command (a list of arguments) that prints such a document.

A key is 32 bytes: ``bytes``, or text holding 64 hex digits or the base64 of
32 bytes.  A name is a key id (``1234abcd-12ab-34cd-56ef-1234567890ab``),
``alias/<name>`` or either's ARN (``arn:aws:kms:<region>:<account>:key/<id>``,
``...:alias/<name>``); an ARN names the same key as its last part.  A value
may also be an object ``{"key": ..., "aliases": [...], "state": "Enabled" |
"Disabled" | "PendingDeletion"}``.

Examples
--------
>>> store = KeyStore({"alias/orders": "00" * 32})
>>> store.resolve("arn:aws:kms:us-east-1:000000000000:alias/orders")
'alias/orders'
>>> store.disable("alias/orders")
>>> store.resolve("alias/orders")
Traceback (most recent call last):
...
shardstream.errors.KMSDisabledException: The KMS key alias/orders is disabled.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import subprocess
import threading
from collections.abc import Mapping

from .errors import KMSDisabledException, KMSInvalidStateException, KMSNotFoundException

__all__ = ["KEY_BYTES", "KEY_STATES", "KeyStore", "new_key"]

KEY_BYTES = 32
KEY_STATES = ("Enabled", "Disabled", "PendingDeletion")
_ARN_RE = re.compile(r"arn:aws[a-z-]*:kms:[^:]*:[^:]*:(key/(?P<key>.+)|(?P<alias>alias/.+))")


def new_key() -> str:
    """A fresh random key, as base64 text (what a key store's JSON document holds).

    Returns
    -------
    str
        The base64 of 32 random bytes.
    """
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _name(key_id: str) -> str:
    """The key or alias an id, alias or ARN names (an ARN names its last part)."""
    m = _ARN_RE.fullmatch(key_id)
    if m is None:
        return key_id
    return m.group("key") or m.group("alias")


def _material(name: str, value) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            raw = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else base64.b64decode(text, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ValueError(f"key {name!r}: not hex or base64 ({exc})") from None
    else:
        raise TypeError(f"key {name!r}: expected bytes or text, not {type(value).__name__}")
    if len(raw) != KEY_BYTES:
        raise ValueError(f"key {name!r} has {len(raw)} bytes; AES-256 keys have {KEY_BYTES}")
    return raw


class KeyStore:
    """Keys by id, alias or ARN, each enabled, disabled or pending deletion.

    Thread safety: all methods may be called from any thread (one lock
    guards the states; the keys themselves never change).

    Parameters
    ----------
    keys : mapping
        ``{name: key}`` or ``{name: {"key": ..., "aliases": [...], "state": ...}}``
        (see the module docstring).

    Raises
    ------
    ValueError, TypeError
        A key that is not 32 bytes, an unknown state, a name given twice.
    """

    def __init__(self, keys: Mapping):
        self._lock = threading.Lock()
        self._material: dict[str, bytes] = {}  # canonical name -> key
        self._checks: dict[str, bytes] = {}  # canonical name -> check value
        self._states: dict[str, str] = {}
        self._names: dict[str, str] = {}  # every name (canonical or alias) -> canonical name
        for raw_name, value in keys.items():
            name = _name(str(raw_name))
            aliases, state = (), "Enabled"
            if isinstance(value, Mapping):
                aliases = tuple(_name(str(a)) for a in value.get("aliases", ()))
                state = value.get("state", "Enabled" if value.get("enabled", True) else "Disabled")
                value = value.get("key")
            if state not in KEY_STATES:
                raise ValueError(f"key {name!r}: state {state!r} is not one of {', '.join(KEY_STATES)}")
            for alias in (name, *aliases):
                if alias in self._names:
                    raise ValueError(f"key name {alias!r} given twice")
                self._names[alias] = name
            self._material[name] = _material(name, value)
            self._checks[name] = hmac.new(self._material[name], b"shardstream key check", hashlib.sha256).digest()[:8]
            self._states[name] = state

    @classmethod
    def load(cls, source) -> KeyStore:
        """A key store from a mapping, a JSON file or a command that prints JSON.

        Parameters
        ----------
        source : KeyStore, mapping, str, path-like or list of str
            A key store (returned as is), a mapping, the path of a JSON
            document, or a command's arguments (run once, no shell; its
            standard output is the document).

        Returns
        -------
        KeyStore

        Raises
        ------
        ValueError
            The document is not a JSON object of keys, or a key is malformed.
        OSError
            The file cannot be read.
        subprocess.CalledProcessError
            The command failed.
        """
        if isinstance(source, KeyStore):
            return source
        if isinstance(source, Mapping):
            return cls(source)
        if isinstance(source, (list, tuple)):
            text = subprocess.run(list(source), check=True, capture_output=True, text=True, timeout=60).stdout
            where = f"the output of {source[0]!r}"
        elif isinstance(source, (str, os.PathLike)):
            with open(source, encoding="utf-8") as f:
                text = f.read()
            where = os.fspath(source)
        else:
            raise TypeError(f"keys: expected a mapping, a JSON file or a command, not {type(source).__name__}")
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{where} is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{where} must hold a JSON object of keys by name")
        return cls(doc)

    def _canonical(self, key_id) -> str:
        if not isinstance(key_id, str) or key_id not in self._names and _name(key_id) not in self._names:
            raise KMSNotFoundException(f"Key '{key_id}' does not exist in the key store.")
        return self._names.get(key_id) or self._names[_name(key_id)]

    def resolve(self, key_id: str) -> str:
        """The canonical name of a usable key (what batches record).

        Parameters
        ----------
        key_id : str
            A key id, alias or ARN.

        Returns
        -------
        str
            The key's first name as given to the store (an ARN reduced to its last part).

        Raises
        ------
        KMSNotFoundException
            No such key.
        KMSDisabledException
            The key is disabled.
        KMSInvalidStateException
            The key is pending deletion.
        """
        name = self._canonical(key_id)
        with self._lock:
            state = self._states[name]
        if state == "Disabled":
            raise KMSDisabledException(f"The KMS key {name} is disabled.")
        if state != "Enabled":
            raise KMSInvalidStateException(f"The KMS key {name} is {state} and cannot be used.")
        return name

    def material(self, key_id: str) -> bytes:
        """The 32 bytes of a usable key.

        Parameters
        ----------
        key_id : str
            A key id, alias or ARN.

        Returns
        -------
        bytes

        Raises
        ------
        KMSNotFoundException, KMSDisabledException, KMSInvalidStateException
            As :meth:`resolve`.
        """
        return self._material[self.resolve(key_id)]

    def check_value(self, key_id: str) -> bytes:
        """Eight bytes that tell this key's material from another's (kept beside sealed batches).

        Parameters
        ----------
        key_id : str

        Returns
        -------
        bytes
            HMAC-SHA256 of a fixed label under the key, cut to 8 bytes.

        Raises
        ------
        KMSNotFoundException, KMSDisabledException, KMSInvalidStateException
            As :meth:`resolve`.
        """
        return self._checks[self.resolve(key_id)]

    def _set_state(self, key_id: str, state: str) -> None:
        name = self._canonical(key_id)
        with self._lock:
            self._states[name] = state

    def disable(self, key_id: str) -> None:
        """Disable a key: sealing and opening with it raise :class:`KMSDisabledException`.

        Parameters
        ----------
        key_id : str
            A key id, alias or ARN.

        Raises
        ------
        KMSNotFoundException
            No such key.
        """
        self._set_state(key_id, "Disabled")

    def enable(self, key_id: str) -> None:
        """Enable a key again.

        Parameters
        ----------
        key_id : str
            A key id, alias or ARN.

        Raises
        ------
        KMSNotFoundException
            No such key.
        """
        self._set_state(key_id, "Enabled")

    def schedule_deletion(self, key_id: str) -> None:
        """Mark a key pending deletion: using it raises :class:`KMSInvalidStateException`.

        Parameters
        ----------
        key_id : str
            A key id, alias or ARN.

        Raises
        ------
        KMSNotFoundException
            No such key.
        """
        self._set_state(key_id, "PendingDeletion")

    def state(self, key_id: str) -> str:
        """``"Enabled"``, ``"Disabled"`` or ``"PendingDeletion"``.

        Parameters
        ----------
        key_id : str
            A key id, alias or ARN.

        Returns
        -------
        str

        Raises
        ------
        KMSNotFoundException
            No such key.
        """
        name = self._canonical(key_id)
        with self._lock:
            return self._states[name]

    def __contains__(self, key_id) -> bool:
        return isinstance(key_id, str) and (key_id in self._names or _name(key_id) in self._names)

    def __len__(self) -> int:
        return len(self._material)

    def __repr__(self) -> str:
        return f"KeyStore({sorted(self._material)!r})"
