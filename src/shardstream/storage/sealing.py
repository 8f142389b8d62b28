"""Which key a durable stream's new batches are sealed with: :class:`StreamSealing`, a part of the store.

The stream's settings (StartStreamEncryption / StopStreamEncryption) switch
it (``store.set_encryption``, published by the store); every flush asks it
for the key to seal with (:mod:`.crypto` does the sealing).
"""

from __future__ import annotations

import threading

from ..errors import KMSError, KMSNotFoundException, StorageError
from .crypto import require_cryptography

__all__ = ["StreamSealing"]


class StreamSealing:
    """The key a durable stream seals new batches with (None: it does not encrypt).

    Thread safety: its own lock guards the key; :meth:`set_encryption` runs
    under the store's flush lock (handed over, reentrant), so a flush seals
    all it writes with one setting and nothing is written between writing
    out the rings and switching.

    Parameters
    ----------
    keys : KeyStore or None
        The key store (None: none is configured, so no key can be used).
    flush_lock : threading.RLock
        The store's flush lock.
    flush : callable
        The store's :meth:`~.store.StreamStore.flush`.
    """

    def __init__(self, keys, flush_lock, flush):
        #: The key store sealing and opening batches (None: none configured).
        self.keys = keys
        self._flush_lock = flush_lock
        self._flush = flush
        self._lock = threading.Lock()
        self._key_id: str | None = None

    @property
    def key_id(self) -> str | None:
        """The key new batches are sealed with, as the stream names it (id, alias or ARN), or None."""
        with self._lock:
            return self._key_id

    def set_encryption(self, key_id: str | None, logs=None, now_ms: int = 0) -> None:
        """Seal what is written from now on with ``key_id`` (None: write plaintext from now on).

        Records the rings still hold were put under the old setting: when
        that setting sealed with a key (stopping, or changing keys), they are
        written first, sealed with it, so no record put while the stream
        encrypted reaches the disk in plaintext.  Batches already written are
        never rewritten: sealed ones stay readable while their key is in the
        key store.

        Parameters
        ----------
        key_id : str or None
            The key id, alias or ARN (resolved by the key store at each flush).
        logs : list of ShardLog, optional
            The stream's rings, to write out under the old setting (omitted
            when restoring the setting at open: nothing is written then).
        now_ms : int, optional
            The engine's clock, for that flush.

        Raises
        ------
        StorageError
            Writing out the rings failed (a full disk, or the old key is no
            longer usable); the setting is unchanged.
        """
        with self._flush_lock:
            if logs is not None and self.key_id is not None and key_id != self.key_id:
                self._flush(logs, now_ms, sync=False)
            with self._lock:
                self._key_id = key_id

    def sealing_key(self) -> str | None:
        """The canonical name of the key to seal with now, or None when not encrypting.

        Returns
        -------
        str or None

        Raises
        ------
        StorageError
            The key cannot be used (missing, disabled, pending deletion, no
            key store, no ``cryptography``): nothing may be written, least of
            all in plaintext.  The message names the KMS error.
        """
        key_id = self.key_id
        if key_id is None:
            return None
        try:
            require_cryptography()
            if self.keys is None:
                raise KMSNotFoundException(
                    f"Key '{key_id}' cannot be used: no key store is configured "
                    "(Engine(keys=...), shardstream serve --kms-keys FILE)."
                )
            return self.keys.resolve(key_id)
        except (KMSError, ImportError) as exc:
            kind = getattr(exc, "error_type", type(exc).__name__)
            raise StorageError(f"Records cannot be stored encrypted: {kind}: {exc}") from exc
