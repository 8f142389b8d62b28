"""Which key a durable stream's new batches are sealed with: :class:`StreamSealing`, a part of the store.

The stream's settings (StartStreamEncryption / StopStreamEncryption) switch
it through :meth:`StreamStore.set_encryption
<shardstream.storage.store.StreamStore.set_encryption>`; every flush asks it
for the key to seal with (:mod:`.crypto` does the sealing).
"""

from __future__ import annotations

import threading

from ..errors import KMSError, KMSNotFoundException, StorageError
from .crypto import require_cryptography

__all__ = ["StreamSealing"]


class StreamSealing:
    """The key a durable stream seals new batches with (None: it does not encrypt).

    Thread safety: one lock guards the key; the store calls :meth:`switch`
    under its flush lock, so a flush seals all it writes with one setting.

    Parameters
    ----------
    keys : KeyStore or None
        The key store (None: none is configured, so no key can be used).
    """

    def __init__(self, keys):
        #: The key store sealing and opening batches (None: none configured).
        self.keys = keys
        self._lock = threading.Lock()
        self._key_id: str | None = None

    @property
    def key_id(self) -> str | None:
        """The key new batches are sealed with, as the stream names it (id, alias or ARN), or None."""
        with self._lock:
            return self._key_id

    def changes(self, key_id: str | None) -> bool:
        """Whether switching to ``key_id`` ends sealing with the current key (its records must be written first)."""
        with self._lock:
            return self._key_id is not None and key_id != self._key_id

    def switch(self, key_id: str | None) -> None:
        """Seal what is written from now on with ``key_id`` (None: write plaintext from now on).

        Batches already written are never rewritten: sealed ones stay
        readable while their key is in the key store.  The store writes the
        records its rings hold under the old setting before switching
        (:meth:`StreamStore.set_encryption
        <shardstream.storage.store.StreamStore.set_encryption>`), so no record
        put while the stream encrypted reaches the disk in plaintext.

        Parameters
        ----------
        key_id : str or None
            The key id, alias or ARN (resolved by the key store at each flush).
        """
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
