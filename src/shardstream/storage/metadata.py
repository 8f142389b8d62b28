"""A durable stream's metadata file, ``stream.json``: written atomically, never twice the same.

:class:`StreamMetadataFile` is a part of :class:`~.store.StreamStore`
(``store.metadata``; the store publishes ``create`` and ``save``).
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

from ..errors import storage_error
from .jsonfile import fsync_directory, write_json_atomic
from .layout import STREAM_FILE

__all__ = ["StreamMetadataFile"]


class StreamMetadataFile:
    """The ``stream.json`` of one stream directory.

    Parameters
    ----------
    path : pathlib.Path
        The stream's directory.
    saved_doc : dict, optional
        The document already on disk: saving an identical one writes nothing
        (reopening writes nothing).
    """

    def __init__(self, path: Path, saved_doc: dict | None = None):
        self.path = Path(path)
        self._saved_doc = saved_doc
        self._lock = threading.Lock()

    def create(self, doc: dict) -> None:
        """Make the stream's directory and write its first ``stream.json``.

        Parameters
        ----------
        doc : dict
            The stream's metadata document (see :mod:`.layout`).

        Raises
        ------
        StorageError
            The directory or the document could not be written.
        """
        try:
            (self.path / "shards").mkdir(parents=True)
            fsync_directory(self.path.parent)
        except OSError as exc:
            raise storage_error(exc) from exc
        self.save(doc)

    def save(self, doc_or_factory) -> None:
        """Write ``stream.json`` atomically.

        Parameters
        ----------
        doc_or_factory : dict or callable
            The document, or a function returning it; a function is called
            under the file's lock, so that concurrent saves always
            leave the newest state on disk.
        """
        with self._lock:
            doc = doc_or_factory() if callable(doc_or_factory) else doc_or_factory
            if doc == self._saved_doc:
                return
            try:
                write_json_atomic(self.path / STREAM_FILE, doc)
            except OSError as exc:
                raise storage_error(exc) from exc
            self._saved_doc = copy.deepcopy(doc)
