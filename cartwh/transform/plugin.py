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
    import pyarrow as pa

    def _keys(centres, ids):
        return pa.array(
            [
                None if c is None or i is None or not i.strip() else patient_key(secret, c, i)
                for c, i in zip(centres.to_pylist(), ids.to_pylist())
            ],
            type=pa.string(),
        )

    conn.create_function(
        name,
        _keys,
        ["VARCHAR", "VARCHAR"],
        "VARCHAR",
        type="arrow",
        null_handling="special",
        side_effects=False,
    )


class Plugin(BasePlugin):
    def initialize(self, plugin_config):
        self._secret = read_settings().secret

    def configure_connection(self, conn):
        register_patient_key(conn, self._secret)
