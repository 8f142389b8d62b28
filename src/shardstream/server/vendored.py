"""A botocore service model vendored into the package: a gzipped ``service-2.json`` and its source record.

:mod:`.model` (Kinesis) and :mod:`.cloudwatch_model` (CloudWatch) each hold
one :class:`VendoredModel`; ``tools/update_kinesis_model.py`` refreshes them
with :meth:`VendoredModel.write`.  The server reads models from here and
never imports botocore.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from pathlib import Path

__all__ = ["DATA_DIR", "VendoredModel"]

#: The package's ``server/data`` directory.
DATA_DIR = Path(__file__).resolve().parent / "data"


class VendoredModel:
    """One vendored service model: loaded once and cached, replaced by :meth:`write`.

    Parameters
    ----------
    model_file, source_file : str
        File names in ``server/data``.
    endpoint_prefix : str, optional
        What ``metadata.endpointPrefix`` must be for :meth:`write` to accept a model.
    """

    def __init__(self, model_file: str, source_file: str, endpoint_prefix: str | None = None):
        self.model_file = model_file
        self.source_file = source_file
        self.endpoint_prefix = endpoint_prefix
        self._lock = threading.Lock()
        self._model: dict | None = None
        self._source: dict | None = None

    def load(self) -> dict:
        """The model as a dict (``metadata``, ``operations``, ``shapes``); cached: treat it as read-only."""
        with self._lock:
            if self._model is None:
                with gzip.open(DATA_DIR / self.model_file, "rb") as f:
                    self._model = json.loads(f.read())
            return self._model

    def source(self) -> dict:
        """Where the model came from: ``{"botocore": version, "sha256": ..., "operations": n}``."""
        with self._lock:
            if self._source is None:
                self._source = json.loads((DATA_DIR / self.source_file).read_text("utf-8"))
            return self._source

    def version(self) -> str:
        """The botocore release the model was taken from."""
        return self.source()["botocore"]

    def operations(self) -> frozenset[str]:
        """Every operation name of the model."""
        return frozenset(self.load()["operations"])

    def write(self, raw_json: bytes, botocore_version: str, directory: str | Path | None = None) -> None:
        """Store ``raw_json`` (a service-2.json document) as the vendored model.

        Parameters
        ----------
        raw_json : bytes
            The uncompressed model, byte for byte as botocore ships it.
        botocore_version : str
            The botocore release it came from, recorded in the source file.
        directory : str or Path, optional
            Where to write (default: the package's ``data`` directory).

        Raises
        ------
        ValueError
            Not JSON, or a model of another service than ``endpoint_prefix``.
        """
        model = json.loads(raw_json)  # refuse anything that is not JSON before touching the files
        prefix = model.get("metadata", {}).get("endpointPrefix")
        if self.endpoint_prefix is not None and prefix != self.endpoint_prefix:
            raise ValueError(f"not the {self.endpoint_prefix} service model (metadata.endpointPrefix is {prefix!r})")
        target = Path(directory) if directory is not None else DATA_DIR
        target.mkdir(parents=True, exist_ok=True)
        # mtime=0 keeps the compressed file byte-identical for identical input
        with open(target / self.model_file, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(raw_json)
        info = {
            "botocore": botocore_version,
            "sha256": hashlib.sha256(raw_json).hexdigest(),
            "operations": len(model.get("operations", {})),
        }
        (target / self.source_file).write_text(json.dumps(info, indent=2) + "\n", "utf-8")
        if directory is None:
            with self._lock:
                self._model = self._source = None
