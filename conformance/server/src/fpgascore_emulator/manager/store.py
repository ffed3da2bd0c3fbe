"""The manager's state: models, services, their keys and TLS material, in one SQLite file.

The state directory is created 0700 and the database 0600 before SQLite opens it (SQLite
gives its journal the database's mode). Keys and PEM are kept here because a restarted
manager must bring every service back as it was; they are never logged and never part of a
record's repr.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sqlite3
import threading
import time
import uuid
from typing import Any, Dict, List, Optional

from .errors import AlreadyExists

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,
    tags TEXT NOT NULL, created_at REAL NOT NULL, UNIQUE (name, version));
CREATE TABLE IF NOT EXISTS services (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, model_id TEXT NOT NULL, state TEXT NOT NULL,
    state_message TEXT NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL, ssl_enabled INTEGER NOT NULL,
    num_replicas INTEGER NOT NULL, runtime TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    certificate_pem TEXT NOT NULL, private_key_pem TEXT NOT NULL, primary_key TEXT NOT NULL,
    secondary_key TEXT NOT NULL, runtime_ref TEXT NOT NULL);
"""

CREATING, RUNNING, FAILED, DELETING = "CREATING", "RUNNING", "FAILED", "DELETING"


@dataclasses.dataclass
class ModelRecord:
    id: str
    name: str
    version: int
    description: str
    tags: Dict[str, str]
    created_at: float


@dataclasses.dataclass
class ServiceRecord:
    id: str
    name: str
    model_id: str
    state: str
    state_message: str
    host: str
    port: int
    ssl_enabled: bool
    num_replicas: int
    runtime: str
    created_at: float
    updated_at: float
    certificate_pem: str = dataclasses.field(default="", repr=False)
    private_key_pem: str = dataclasses.field(default="", repr=False)
    primary_key: str = dataclasses.field(default="", repr=False)
    secondary_key: str = dataclasses.field(default="", repr=False)
    # How the runtime finds it again: {"pid": .., "start_time": ..} or {"container_id": ..}.
    runtime_ref: Dict[str, Any] = dataclasses.field(default_factory=dict)


_SERVICE_FIELDS = [field.name for field in dataclasses.fields(ServiceRecord)]


def _private_file(path: pathlib.Path) -> None:
    """Creates ``path`` empty with mode 0600 unless it exists; makes an existing one 0600."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        os.chmod(path, 0o600)


class Store:
    """Thread-safe: one connection, one lock, every write in its own transaction."""

    def __init__(self, state_dir: pathlib.Path) -> None:
        self.state_dir = pathlib.Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        self.path = self.state_dir / "manager.db"
        _private_file(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.executescript(SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'manager_id'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('manager_id', ?)", (uuid.uuid4().hex[:12],))
                row = self._db.execute("SELECT value FROM meta WHERE key = 'manager_id'").fetchone()
        # Labels its containers and processes, so that it never adopts another manager's.
        self.manager_id: str = row["value"]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- models ---------------------------------------------------------------------------
    def add_model(self, name: str, description: str, tags: Dict[str, str]) -> ModelRecord:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT MAX(version) AS v FROM models WHERE name = ?", (name,)).fetchone()
                version = (row["v"] or 0) + 1
                record = ModelRecord(f"{name}:{version}", name, version, description, dict(tags), time.time())
                self._db.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?)",
                                 (record.id, name, version, description, json.dumps(record.tags, sort_keys=True),
                                  record.created_at))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return record

    def model(self, model_id: str) -> Optional[ModelRecord]:
        """By id ("name:version"), or the latest version of a bare name."""
        with self._lock:
            if ":" in model_id:
                row = self._db.execute("SELECT * FROM models WHERE id = ?", (model_id,)).fetchone()
            else:
                row = self._db.execute("SELECT * FROM models WHERE name = ? ORDER BY version DESC LIMIT 1",
                                       (model_id,)).fetchone()
        return self._model(row) if row else None

    def models(self) -> List[ModelRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM models ORDER BY created_at, name, version").fetchall()
        return [self._model(row) for row in rows]

    @staticmethod
    def _model(row: sqlite3.Row) -> ModelRecord:
        return ModelRecord(row["id"], row["name"], row["version"], row["description"], json.loads(row["tags"]),
                           row["created_at"])

    # -- services -------------------------------------------------------------------------
    def add_service(self, record: ServiceRecord) -> None:
        """Inserts a new service; its name must be free (AlreadyExists otherwise)."""
        values = self._values(record)
        with self._lock:
            try:
                self._db.execute(f"INSERT INTO services ({', '.join(_SERVICE_FIELDS)}) "
                                 f"VALUES ({', '.join('?' * len(values))})", values)
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"a service named {record.name!r} already exists") from None

    def save_service(self, record: ServiceRecord) -> None:
        record.updated_at = time.time()
        values = self._values(record)
        assignments = ", ".join(f"{name} = ?" for name in _SERVICE_FIELDS[1:])
        with self._lock:
            self._db.execute(f"UPDATE services SET {assignments} WHERE id = ?", values[1:] + [record.id])

    def delete_service(self, service_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM services WHERE id = ?", (service_id,))

    def service(self, id_or_name: str) -> Optional[ServiceRecord]:
        with self._lock:
            row = self._db.execute("SELECT * FROM services WHERE id = ? OR name = ?",
                                   (id_or_name, id_or_name)).fetchone()
        return self._service(row) if row else None

    def services(self, model_id: str = "") -> List[ServiceRecord]:
        with self._lock:
            if model_id:
                rows = self._db.execute("SELECT * FROM services WHERE model_id = ? ORDER BY created_at",
                                        (model_id,)).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM services ORDER BY created_at").fetchall()
        return [self._service(row) for row in rows]

    @staticmethod
    def _values(record: ServiceRecord) -> List[Any]:
        values = []
        for name in _SERVICE_FIELDS:
            value = getattr(record, name)
            if name == "runtime_ref":
                value = json.dumps(value, sort_keys=True)
            elif isinstance(value, bool):
                value = int(value)
            values.append(value)
        return values

    @staticmethod
    def _service(row: sqlite3.Row) -> ServiceRecord:
        values = {name: row[name] for name in _SERVICE_FIELDS}
        values["ssl_enabled"] = bool(values["ssl_enabled"])
        values["runtime_ref"] = json.loads(values["runtime_ref"])
        return ServiceRecord(**values)
