"""The control plane itself: models and services, their lifecycle on a runtime, and the
reconciliation that brings a restarted manager's services back.

Rules (the seed's): a service authenticates calls only with SSL, and then always (its two
keys, generated with ``secrets.token_urlsafe`` unless given); everything a request asks for
is checked before anything is started; a key is replaced by rewriting its file and making
the server reload (SIGHUP), and the call answers once the server logged the reload, so the
old key is refused from then on and the other key never stopped working. A service that is
dead is never reported RUNNING: it is restarted on its port (at most ``max_restarts`` times
in ``restart_window`` seconds) or marked FAILED. A service of several replicas is one unit:
its replicas and their balancer (servers.py) start, reload and stop together, and one dead
replica restarts the service; changing ``num_replicas`` restarts it on its port.
"""
from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from typing import Dict, List, Optional, Tuple

from ..logs import log
from . import kubernetes
from . import replicas as replica_status
from .errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from .runtime import (EngineUnavailable, Handle, Runtime, RuntimeFailure, ServerSpec, remove_directory,
                      service_directory, write_secrets)
from .servers import ServiceServers
from .store import CREATING, DELETING, FAILED, RUNNING, ModelRecord, ServiceRecord, Store
from .validation import check_key, check_model_name, check_service_name, check_tls, shown

RESTARTING = "restarting: the server is not running"

PRIMARY, SECONDARY = "PRIMARY", "SECONDARY"
MAX_DESCRIPTION = 1000
MAX_TAGS = 64
MAX_TAG_CHARS = 256
MAX_REPLICAS = 16


def generate_key() -> str:
    """32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def check_replicas(count: int) -> int:
    if count < 1:
        raise InvalidArgument(f"num_replicas must be at least 1, not {count}")
    if count > MAX_REPLICAS:
        raise InvalidArgument(f"num_replicas must be at most {MAX_REPLICAS}, not {count}")
    return count


class Manager:
    def __init__(self, store: Store, runtime: Runtime, service_host: str = "127.0.0.1",
                 monitor_interval: float = 2.0, max_restarts: int = 3, restart_window: float = 300.0) -> None:
        self.store = store
        self.runtime = runtime
        self.servers = ServiceServers(runtime)
        self.service_host = service_host
        self._monitor_interval = monitor_interval
        self._max_restarts = max_restarts
        self._restart_window = restart_window
        self._locks: Dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self._restarts: Dict[str, List[float]] = {}
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._monitor: Optional[threading.Thread] = None

    # -- lifetime -------------------------------------------------------------------------
    def start(self) -> None:
        """Reconciles, then watches the services in a background thread."""
        self.reconcile()
        self._monitor = threading.Thread(target=self._watch, name="monitor", daemon=True)
        self._monitor.start()

    def close(self) -> None:
        """Stops watching. The services keep running: a manager started again adopts them."""
        self._stopping.set()
        self._wake.set()
        if self._monitor:
            self._monitor.join(timeout=30)

    def _lock(self, service_id: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault(service_id, threading.RLock())

    # -- models ---------------------------------------------------------------------------
    def register_model(self, name: str, description: str = "", tags: Optional[Dict[str, str]] = None) -> ModelRecord:
        check_model_name(name)
        tags = dict(tags or {})
        if len(description) > MAX_DESCRIPTION:
            raise InvalidArgument(f"description has {len(description)} characters; at most {MAX_DESCRIPTION}")
        if len(tags) > MAX_TAGS:
            raise InvalidArgument(f"{len(tags)} tags; at most {MAX_TAGS}")
        for key, value in tags.items():
            if not key or len(key) > MAX_TAG_CHARS or len(value) > MAX_TAG_CHARS:
                raise InvalidArgument(f"tag {shown(key)}: names are 1 to {MAX_TAG_CHARS} characters, values at most "
                                      f"{MAX_TAG_CHARS}")
        model = self.store.add_model(name, description, tags)
        log("model.registered", model=model.id)
        return model

    def model(self, model_id: str) -> ModelRecord:
        if not model_id:
            raise InvalidArgument("model_id is required: the id of a registered model (RegisterModel), "
                                  "e.g. 'resnet50:1', or its name for the latest version")
        model = self.store.model(model_id)
        if model is None:
            raise NotFound(f"model {shown(model_id)} is not registered")
        return model

    # -- services: reading ----------------------------------------------------------------
    def service(self, service_id: str) -> ServiceRecord:
        """The service by id or name, its state checked against its runtime."""
        record = self._find(service_id)
        return self._checked(record)

    def replicas(self, record: ServiceRecord) -> List[replica_status.ReplicaStatus]:
        """Each running server's status, read from its /metrics now (none unless RUNNING)."""
        if record.state != RUNNING or not record.runtime_ref:
            return []
        handle = Handle(record.port, record.runtime_ref)
        return [replica_status.scrape(address, index=index)
                for index, address in enumerate(self.servers.metrics_addresses(handle))]

    def services(self, model_id: str = "") -> List[ServiceRecord]:
        if model_id:
            model_id = self.model(model_id).id
        return [self._checked(record) for record in self.store.services(model_id)]

    def auth_keys(self, service_id: str) -> Tuple[str, str]:
        record = self._find(service_id)
        self._require_ssl(record)
        return record.primary_key, record.secondary_key

    def export_kubernetes(self, service_id: str, image: str = "", replicas: int = 0) -> str:
        """The service as Kubernetes manifests (YAML; its Secret holds the keys and PEM)."""
        record = self._find(service_id)
        model = self.model(record.model_id)
        if replicas < 0:
            raise InvalidArgument(f"replicas must be 0 (the service's) or more, not {replicas}")
        image = image or getattr(self.runtime, "image", "") or kubernetes.DEFAULT_IMAGE
        log("service.exported", service=record.id, name=record.name, format="kubernetes")
        return kubernetes.to_yaml(kubernetes.manifests(record, model, image, replicas))

    def _find(self, service_id: str) -> ServiceRecord:
        if not service_id:
            raise InvalidArgument("service_id is required: a service's id (svc_…) or its name")
        record = self.store.service(service_id)
        if record is None:
            raise NotFound(f"service {shown(service_id)} not found")
        return record

    @staticmethod
    def _require_ssl(record: ServiceRecord) -> None:
        if not record.ssl_enabled:
            raise FailedPrecondition(f"service {record.name!r} has no keys: SSL is off, and a service "
                                     f"authenticates calls only with SSL (UpdateService with ssl_enabled turns it on)")

    def _checked(self, record: ServiceRecord) -> ServiceRecord:
        """A RUNNING record whose server is dead becomes CREATING (restarting) at once; the
        monitor restarts it. A service being changed is answered as stored now: a restart saves
        CREATING before it stops anything, so the RUNNING read before it began is not answered.
        The monitor also holds the lock while it looks at a RUNNING service's server, before it
        saves anything: a stored RUNNING whose server is dead is answered as restarting then."""
        if record.state != RUNNING:
            return record
        lock = self._lock(record.id)
        if not lock.acquire(blocking=False):
            stored = self.store.service(record.id) or record
            if stored.state == RUNNING and not self._alive(stored):
                return dataclasses.replace(stored, state=CREATING, state_message=RESTARTING)
            return stored
        try:
            fresh = self.store.service(record.id)
            if fresh is None or fresh.state != RUNNING:
                return fresh or record
            if not self._alive(fresh):
                fresh.state, fresh.state_message = CREATING, RESTARTING
                self.store.save_service(fresh)
                log("service.died", service=fresh.id, name=fresh.name)
                self._wake.set()
            return fresh
        finally:
            lock.release()

    def _alive(self, record: ServiceRecord) -> bool:
        """Whether the record's servers run; True when the engine cannot tell (the stored state stands)."""
        try:
            return self.servers.alive(Handle(record.port, record.runtime_ref))
        except EngineUnavailable:
            return True

    # -- services: changing ---------------------------------------------------------------
    def create_service(self, name: str, model_id: str, ssl_enabled: bool = False, ssl_certificate: str = "",
                       ssl_key: str = "", primary_key: str = "", secondary_key: str = "",
                       num_replicas: int = 0) -> ServiceRecord:
        """Starts the service and returns it RUNNING (the record holds its keys)."""
        check_service_name(name)
        if self.store.service(name) is not None:
            raise AlreadyExists(f"a service named {name!r} already exists")
        model = self.model(model_id)
        replicas = check_replicas(num_replicas or 1)
        primary = secondary = ""
        if ssl_enabled:
            check_tls(ssl_certificate, ssl_key)
            primary = check_key("primary_key", primary_key) if primary_key else generate_key()
            secondary = check_key("secondary_key", secondary_key) if secondary_key else generate_key()
            if primary == secondary:
                raise InvalidArgument("primary_key and secondary_key must differ")
        else:
            if ssl_certificate or ssl_key:
                raise InvalidArgument("ssl_certificate and ssl_key need ssl_enabled")
            if primary_key or secondary_key:
                raise InvalidArgument("primary_key and secondary_key need ssl_enabled: a service authenticates "
                                      "calls only with SSL (without it no key is issued or required)")
        now = time.time()
        record = ServiceRecord(
            id=f"svc_{secrets.token_hex(6)}", name=name, model_id=model.id, state=CREATING, state_message="",
            host=self.service_host, port=0, ssl_enabled=bool(ssl_enabled), num_replicas=replicas,
            runtime=self.runtime.name, created_at=now, updated_at=now,
            certificate_pem=ssl_certificate if ssl_enabled else "", private_key_pem=ssl_key if ssl_enabled else "",
            primary_key=primary, secondary_key=secondary)
        with self._lock(record.id):
            self.store.add_service(record)  # AlreadyExists if the name was taken meanwhile
            try:
                spec = self._spec(record, model)
                self._materialize(record, spec)
                handle = self.servers.start(spec, record.num_replicas)
            except (RuntimeFailure, OSError) as error:
                self.store.delete_service(record.id)
                remove_directory(service_directory(self.store.state_dir, record.id))
                log("service.create_failed", service=record.id, name=name, error=str(error))
                raise Unavailable(f"service {name!r} did not start: {error}") from None
            record.port, record.runtime_ref = handle.port, handle.ref
            record.state = RUNNING
            self.store.save_service(record)
        log("service.created", service=record.id, name=name, model=model.id, host=record.host, port=record.port,
            ssl=record.ssl_enabled, runtime=record.runtime, replicas=record.num_replicas)
        return record

    def update_service(self, service_id: str, ssl_enabled: Optional[bool] = None, ssl_certificate: str = "",
                       ssl_key: str = "", model_id: str = "",
                       num_replicas: Optional[int] = None) -> Tuple[ServiceRecord, bool]:
        """Returns the service and whether this update issued new keys (SSL turned on)."""
        found = self._find(service_id)
        with self._lock(found.id):
            record = self._find(found.id)
            if record.state == DELETING:
                raise FailedPrecondition(f"service {record.name!r} is being deleted")
            new_ssl = record.ssl_enabled if ssl_enabled is None else bool(ssl_enabled)
            if num_replicas is not None:
                check_replicas(num_replicas)
            model = self.model(model_id) if model_id else None
            new_certificate = bool(ssl_certificate or ssl_key)
            if new_certificate:
                if not new_ssl:
                    raise InvalidArgument("ssl_certificate and ssl_key need ssl_enabled")
                check_tls(ssl_certificate, ssl_key)
            elif new_ssl and not record.ssl_enabled:
                raise InvalidArgument("turning SSL on needs ssl_certificate and ssl_key (PEM)")
            toggled = new_ssl != record.ssl_enabled
            model_changed = model is not None and model.id != record.model_id
            scaled = num_replicas is not None and num_replicas != record.num_replicas
            if not (toggled or model_changed or new_certificate or scaled) and record.state == RUNNING:
                return record, False
            before = dataclasses.replace(record)
            issued = False
            if toggled and new_ssl:
                record.primary_key, record.secondary_key, issued = generate_key(), generate_key(), True
            if not new_ssl:
                record.certificate_pem = record.private_key_pem = record.primary_key = record.secondary_key = ""
            if new_certificate:
                record.certificate_pem, record.private_key_pem = ssl_certificate, ssl_key
            if model is not None:
                record.model_id = model.id
            record.ssl_enabled = new_ssl
            restart = toggled or model_changed or scaled or record.state != RUNNING
            if restart:
                self._restart(record, "updated", replicas=num_replicas if scaled and num_replicas else None)
            else:
                self._reload(before, record, "the new certificate")
            log("service.updated", service=record.id, name=record.name, ssl=record.ssl_enabled,
                model=record.model_id, certificate=new_certificate, replicas=record.num_replicas, restarted=restart)
            return record, issued

    def regenerate_auth_key(self, service_id: str, key_type: str) -> ServiceRecord:
        if key_type not in (PRIMARY, SECONDARY):
            raise InvalidArgument("key_type must be PRIMARY or SECONDARY")
        found = self._find(service_id)
        with self._lock(found.id):
            record = self._find(found.id)
            self._require_ssl(record)
            before = dataclasses.replace(record)
            if key_type == PRIMARY:
                record.primary_key = generate_key()
            else:
                record.secondary_key = generate_key()
            if record.state == RUNNING:
                self._reload(before, record, f"the new {key_type.lower()} key")
            else:  # not serving: its next start reads the new key
                self.store.save_service(record)
            log("service.key_regenerated", service=record.id, name=record.name, key=key_type.lower())
            return record

    def delete_service(self, service_id: str) -> None:
        found = self._find(service_id)
        with self._lock(found.id):
            record = self._find(found.id)
            record.state, record.state_message = DELETING, ""
            self.store.save_service(record)
            self._remove(record)
        log("service.deleted", service=record.id, name=record.name)

    # -- the runtime's side ---------------------------------------------------------------
    def _spec(self, record: ServiceRecord, model: Optional[ModelRecord] = None) -> ServerSpec:
        model = model or self.store.model(record.model_id)
        if model is None:
            raise RuntimeFailure(f"its model {record.model_id!r} is not registered")
        return ServerSpec(service_id=record.id, name=record.name, model_name=model.name,
                          model_version=model.version, host=record.host, port=record.port,
                          tls=record.ssl_enabled, directory=service_directory(self.store.state_dir, record.id))

    def _materialize(self, record: ServiceRecord, spec: Optional[ServerSpec] = None) -> bool:
        spec = spec or self._spec(record)
        return write_secrets(spec, record.certificate_pem, record.private_key_pem, record.primary_key,
                             record.secondary_key, self.runtime.secrets_owner)

    def _reload(self, before: ServiceRecord, after: ServiceRecord, what: str) -> None:
        """Writes ``after``'s secrets, makes the server reload them and saves ``after``; when the
        server does not confirm, puts ``before``'s back and raises Unavailable."""
        handle = Handle(after.port, after.runtime_ref)
        try:
            self._materialize(after)
            self.servers.reload(handle, after.ssl_enabled)
        except RuntimeFailure as error:
            try:
                self._materialize(before)
                self.servers.reload(handle, before.ssl_enabled)
            except RuntimeFailure:
                pass
            log("service.reload_failed", service=after.id, name=after.name, error=str(error))
            raise Unavailable(f"service {after.name!r} did not take {what}: {error}; it keeps what it had") from None
        self.store.save_service(after)

    def _restart(self, record: ServiceRecord, reason: str, replicas: Optional[int] = None) -> None:
        """Stops the service's servers and starts them again on its port with the record's
        settings (``replicas`` of them when given); RUNNING, or FAILED and Unavailable raised."""
        record.state, record.state_message = CREATING, reason
        self.store.save_service(record)
        try:
            self.servers.stop(Handle(record.port, record.runtime_ref))
            self.servers.stop_leftovers(self._spec(record), record.num_replicas)
            record.runtime_ref = {}
            if replicas:
                record.num_replicas = replicas
            self.store.save_service(record)
            spec = self._spec(record)
            self._materialize(record, spec)
            handle = self.servers.start(spec, record.num_replicas)
        except (RuntimeFailure, OSError) as error:
            record.state, record.state_message, record.runtime_ref = FAILED, f"did not start: {error}", {}
            self.store.save_service(record)
            log("service.failed", service=record.id, name=record.name, error=str(error))
            raise Unavailable(f"service {record.name!r} did not start: {error}") from None
        record.port, record.runtime_ref = handle.port, handle.ref
        record.state, record.state_message = RUNNING, ""
        self.store.save_service(record)
        log("service.started", service=record.id, name=record.name, port=record.port, reason=reason)

    def _remove(self, record: ServiceRecord) -> None:
        try:
            self.servers.stop(Handle(record.port, record.runtime_ref))
            self.servers.stop_leftovers(self._spec_or_bare(record), record.num_replicas)
        except RuntimeFailure as error:
            raise Unavailable(f"service {record.name!r} could not be stopped: {error}; it stays DELETING and a "
                              f"restarted manager finishes the deletion") from None
        remove_directory(service_directory(self.store.state_dir, record.id))
        self.store.delete_service(record.id)
        with self._locks_guard:
            self._restarts.pop(record.id, None)

    def _spec_or_bare(self, record: ServiceRecord) -> ServerSpec:
        try:
            return self._spec(record)
        except RuntimeFailure:
            return ServerSpec(record.id, record.name, "", 0, record.host, record.port, record.ssl_enabled,
                              service_directory(self.store.state_dir, record.id))

    def _revive(self, record: ServiceRecord, reason: str) -> None:
        """Restarts a dead service within the restart budget, else marks it FAILED."""
        now = time.monotonic()
        with self._locks_guard:
            recent = [t for t in self._restarts.get(record.id, []) if now - t < self._restart_window]
            exhausted = len(recent) >= self._max_restarts
            if not exhausted:
                recent.append(now)
            self._restarts[record.id] = recent
        if exhausted:
            record.state = FAILED
            record.state_message = (f"its server exited {len(recent) + 1} times within {self._restart_window:.0f} s; "
                                    f"not restarted again: update or delete the service")
            record.runtime_ref = {}
            self.store.save_service(record)
            log("service.failed", service=record.id, name=record.name, error=record.state_message)
            return
        try:
            self._restart(record, reason)
        except Unavailable:
            pass  # FAILED, with the reason in state_message

    # -- reconciliation -------------------------------------------------------------------
    def reconcile(self) -> None:
        """Adopts the live servers of the stored services, restarts or fails the dead ones,
        finishes interrupted deletions, removes this manager's servers of unknown services."""
        records = self.store.services()
        try:
            for removed in self.runtime.orphans(record.id for record in records):
                log("manager.orphan_removed", what=removed)
        except RuntimeFailure as error:
            log("manager.reconcile_failed", error=str(error))
            return
        for record in records:
            with self._lock(record.id):
                try:
                    self._reconcile_one(record)
                except (RuntimeFailure, Unavailable, OSError) as error:
                    log("manager.reconcile_failed", service=record.id, name=record.name, error=str(error))

    def _reconcile_one(self, record: ServiceRecord) -> None:
        if record.state == DELETING:
            self._remove(record)
            log("service.deleted", service=record.id, name=record.name, reason="an interrupted deletion")
            return
        if record.state == FAILED:
            return
        spec = self._spec(record)
        handle = self.servers.find(spec, record.runtime_ref, record.num_replicas)
        if handle is None:
            log("service.died", service=record.id, name=record.name, reason="not running when the manager started")
            self._revive(record, "restarted by the manager: its server was not running")
            return
        record.runtime_ref, record.port = handle.ref, handle.port or record.port
        if self._materialize(record, spec):  # a change the server never got (the manager stopped mid-way)
            self.servers.reload(handle, record.ssl_enabled)
        record.state, record.state_message = RUNNING, ""
        self.store.save_service(record)
        log("service.adopted", service=record.id, name=record.name, port=record.port)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._monitor_interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            for record in self.store.services():
                if record.state not in (RUNNING, CREATING):
                    continue
                lock = self._lock(record.id)
                if not lock.acquire(blocking=False):
                    continue  # being changed right now
                try:
                    fresh = self.store.service(record.id)
                    if fresh is None or fresh.state not in (RUNNING, CREATING):
                        continue
                    handle = Handle(fresh.port, fresh.runtime_ref)
                    if fresh.runtime_ref and self.servers.alive(handle):
                        self.servers.trim_logs(handle)
                        if fresh.state == CREATING:  # marked by a reader, but alive after all
                            fresh.state, fresh.state_message = RUNNING, ""
                            self.store.save_service(fresh)
                        continue
                    log("service.died", service=fresh.id, name=fresh.name)
                    self._revive(fresh, "restarted by the manager: its server had exited")
                except EngineUnavailable as error:
                    log("manager.engine_unavailable", error=str(error))
                except Exception as error:  # the monitor must go on
                    log("manager.monitor_error", service=record.id, error=f"{type(error).__name__}: {error}")
                finally:
                    lock.release()
