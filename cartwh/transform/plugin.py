"""dbt-duckdb plugin: the pseudonymisation UDF ``cartwh_patient_key``.

``patient_key`` = hex HMAC-SHA256, keyed with ``CARTWH_SECRET``, of
``centre_code || 0x1F || trim(centre_patient_id)``. DuckDB has no HMAC without a
downloaded extension, and a secret inside model SQL would be written to
``target/compiled``: the key lives only in this process's environment.
"""

from __future__ import annotations

import hashlib
import hmac

from dbt.adapters.duckdb.plugins import BasePlugin

from cartwh.settings import read_settings

UNIT_SEPARATOR = "\x1f"


def patient_key(secret: str, centre_code: str, centre_patient_id: str) -> str:
    message = f"{centre_code}{UNIT_SEPARATOR}{centre_patient_id.strip()}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def register_patient_key(conn, secret: str, name: str = "cartwh_patient_key") -> None:
    """Register the UDF ``name(centre_code, centre_patient_id)`` keyed with ``secret`` on ``conn``.

    Parameters
    ----------
    conn : duckdb.DuckDBPyConnection
        The connection to register the function on (the key stays in this process).
    secret : str
        The HMAC key.
    name : str
        The SQL name of the function (``cartwh rekey`` registers one per key).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    def _keys(centres, ids):
        # one HMAC per distinct (centre, id) of the batch: a patient has many rows per batch
        centres, ids = _contiguous(centres), _contiguous(ids)
        centre_codes, patient_ids = pc.dictionary_encode(centres), pc.dictionary_encode(ids)
        n_ids = len(patient_ids.dictionary)
        if not len(centre_codes.dictionary) or not n_ids:
            return pa.nulls(len(centres), pa.string())
        pairs = _codes(centre_codes) * n_ids + _codes(patient_ids)
        distinct, position = np.unique(pairs, return_inverse=True)
        codes, id_values = centre_codes.dictionary.to_pylist(), patient_ids.dictionary.to_pylist()
        keys = pa.array(
            [
                patient_key(secret, codes[pair // n_ids], id_values[pair % n_ids])
                if id_values[pair % n_ids].strip()
                else None
                for pair in distinct.tolist()
            ],
            type=pa.string(),
        )
        known = pc.and_(pc.is_valid(centres), pc.is_valid(ids))
        return pc.if_else(known, keys.take(pa.array(position)), pa.scalar(None, pa.string()))

    conn.create_function(
        name,
        _keys,
        ["VARCHAR", "VARCHAR"],
        "VARCHAR",
        type="arrow",
        null_handling="special",
        side_effects=False,
    )


def _contiguous(values):
    return values.combine_chunks() if hasattr(values, "combine_chunks") else values


def _codes(encoded):
    """The dictionary indices of ``encoded`` as int64, 0 where the value is missing (masked
    by the caller)."""
    import pyarrow.compute as pc

    return pc.fill_null(encoded.indices, 0).to_numpy().astype("int64")


class Plugin(BasePlugin):
    def initialize(self, plugin_config):
        self._secret = read_settings().secret

    def configure_connection(self, conn):
        register_patient_key(conn, self._secret)
