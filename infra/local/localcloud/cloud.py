"""The local cloud: everything ``loanflow local up`` runs, started and stopped as one thing.

Start order: the partner simulators (their URLs are template parameters), the Lambda runtime's
Invoke endpoint, the moto server (which forwards Invoke there), the template's resources, the
functions' worker pools, the HTTP front with its JWT issuer, the SQS pollers, the schedules and
the watcher that turns ended executions into EventBridge events.
``stop()`` undoes it in reverse and leaves no process, thread or port behind.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from localcloud import auth, motoserver
from localcloud.events import ExecutionWatcher, Scheduler, SqsPoller, schedules, sqs_sources
from localcloud.gateway import HttpFront, http_routes
from localcloud.httpserver import Server
from localcloud.provision import Resources, provision
from localcloud.runtime import (
    InvokeServer,
    Runtime,
    child_environment_defaults,
    function_specs,
)
from localcloud.template import ROOT, TEMPLATE_PATH, load_template

log = logging.getLogger(__name__)


@dataclass
class Options:
    """``loanflow local up``'s knobs."""

    port: int = 3000
    bank_latency_ms: float = 0.0
    bank_failure_rate: float = 0.0
    bank_timeout_rate: float = 0.0
    bureau_latency_ms: float = 0.0
    bureau_failure_rate: float = 0.0
    payout_interval_s: float = 10.0
    max_concurrency: int = 4
    warm: bool = False
    """Initialise every function at start (default: only those behind HTTP routes)."""
    seed: int | None = None
    region: str = "us-east-1"
    template_path: Path = TEMPLATE_PATH
    base_dir: Path = ROOT
    state_dir: Path = field(default_factory=auth.state_dir)
    issuer: str | None = None
    """The JWT issuer the API trusts; default: the one template.yaml configures (Cognito's URL)."""
    audience: tuple[str, ...] | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    """Template parameter overrides (e.g. ``{"LogLevel": "DEBUG"}``); the simulators' URLs win."""


def _simulator(module_name: str) -> Any | None:
    """``localcloud.<module_name>`` if its owner has delivered it."""
    try:
        return importlib.import_module(f"localcloud.{module_name}")
    except ModuleNotFoundError as error:
        if error.name != f"localcloud.{module_name}":
            raise
        log.warning("localcloud.%s does not exist yet: that partner is not simulated", module_name)
        return None


class LocalCloud:
    """The whole system on 127.0.0.1. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options()
        self.template: dict[str, Any] = {}
        self.resources: Resources | None = None
        self.runtime: Runtime | None = None
        self.issuer: auth.Issuer | None = None
        self.bureau: Any = None
        self.bank: Any = None
        self.moto: motoserver.MotoServer | None = None
        self.started_s: float = 0.0
        self.parameters: dict[str, str] = {}
        self._invoke_server: InvokeServer | None = None
        self._front: Server | None = None
        self._pollers: list[SqsPoller] = []
        self._poller_threads: list[threading.Thread] = []
        self._stop_polling = threading.Event()
        self._scheduler: Scheduler | None = None
        self._watcher: ExecutionWatcher | None = None
        self._delivered_events: set[str] = set()
        """EventBridge deliveries made in this cloud: a restarted watcher does not repeat them."""
        self._stopped = False

    # -- addresses ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._front is not None, "start() first"
        return self._front.url

    @property
    def moto_url(self) -> str:
        assert self.moto is not None, "start() first"
        return self.moto.url

    def session(self) -> boto3.Session:
        """A boto3 session for the local cloud's account (pass ``endpoint_url=moto_url``)."""
        return boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the local cloud's fake credentials
            region_name=self.options.region,
        )

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.moto_url)  # type: ignore[call-overload]

    def info(self) -> dict[str, Any]:
        """``GET /_localcloud/info``: where operator tools (reconcile, dlq) find this cloud."""
        assert self.resources is not None, "start() first"
        return {
            "moto_url": self.moto_url,
            "region": self.options.region,
            "names": dict(self.resources.names),
            "queue_urls": dict(self.resources.queue_urls),
            "parameters": {
                **{name: str(value) for name, value in self.resources.parameters.items()},
                **self.parameters,
            },
        }

    def token(self, user: str, groups: tuple[str, ...] = ()) -> str:
        assert self.issuer is not None, "start() first"
        return self.issuer.mint(user, groups)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> LocalCloud:
        started = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_s = time.perf_counter() - started
        return self

    def _start(self) -> None:
        options = self.options
        options.state_dir.mkdir(parents=True, exist_ok=True)
        self.template = load_template(options.template_path)
        parameters = self._start_simulators()
        self.parameters = parameters

        self._invoke_server = InvokeServer(Runtime({}))
        (options.state_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.moto = motoserver.start(
            self._invoke_server.url, log_path=options.state_dir / "logs" / "moto.log"
        )
        self.resources = provision(
            self.template,
            region=options.region,
            parameters=parameters,
            base_dir=options.base_dir,
            session=self.session(),
            endpoint_url=self.moto.url,
            strict=False,
        )
        self._configure_bureau_key()
        specs = function_specs(
            self.template,
            self.resources,
            base_dir=options.base_dir,
            extra_environment=child_environment_defaults(self.moto.url, options.region),
            opt_root=options.state_dir / "opt",
        )
        self.runtime = Runtime(
            specs, max_concurrency=options.max_concurrency, log_dir=options.state_dir / "logs"
        )
        self._invoke_server.runtime = self.runtime

        routes = http_routes(self.template, self.resources)
        self.issuer = self._issuer(routes)
        front = HttpFront(
            routes,
            self.runtime.invoke,
            self.issuer,
            account_id=self.resources.account_id,
            info=self.info,
        )
        self._front = Server(front, port=options.port, name="http-front")

        # The front door is warmed; other functions start cold on first use, as on Lambda.
        self.runtime.warm(None if options.warm else sorted({route.function for route in routes}))
        self._start_pollers()
        self._scheduler = Scheduler(
            schedules(self.template, self.resources),
            self.resources,
            self.runtime.invoke,
            options.payout_interval_s,
        )
        self._scheduler.start()
        self._start_watcher()
        auth.CloudInfo(self.url, os.getpid()).save(options.state_dir)

    def _start_simulators(self) -> dict[str, str]:
        options = self.options
        parameters: dict[str, str] = {}
        bureau_sim = _simulator("bureau_sim")
        if bureau_sim is not None:
            self.bureau = bureau_sim.serve(
                latency_ms=options.bureau_latency_ms,
                failure_rate=options.bureau_failure_rate,
                seed=options.seed,
            )
            parameters["BureauApiUrl"] = self.bureau.url
        bank_sim = _simulator("bank_sim")
        if bank_sim is not None:
            self.bank = bank_sim.serve(
                latency_ms=options.bank_latency_ms,
                failure_rate=options.bank_failure_rate,
                timeout_rate=options.bank_timeout_rate,
                seed=options.seed,
            )
            parameters["BankApiUrl"] = self.bank.url
        declared = self.template.get("Parameters") or {}
        chosen = {**options.parameters, **parameters}
        return {name: value for name, value in chosen.items() if name in declared}

    def _configure_bureau_key(self) -> None:
        """The bureau simulator accepts the key the template's secret holds, as the partner would."""
        assert self.resources is not None
        if self.bureau is None or "BureauApiKeySecret" not in self.resources.arns:
            return
        secrets = self.client("secretsmanager")
        value = secrets.get_secret_value(SecretId=self.resources.arns["BureauApiKeySecret"])
        self.bureau.app.api_key = value["SecretString"]

    def _issuer(self, routes: list[Any]) -> auth.Issuer:
        authorizer = next((route.authorizer for route in routes if route.authorizer), None)
        issuer = self.options.issuer or (authorizer.issuer if authorizer else "http://localhost")
        audience = self.options.audience or (authorizer.audience if authorizer else ())
        return auth.Issuer.ensure(self.options.state_dir, issuer, tuple(audience))

    def _start_pollers(self) -> None:
        assert self.resources is not None
        assert self.runtime is not None
        sqs = self.client("sqs")
        for source in sqs_sources(self.template, self.resources):
            if not source.enabled:
                continue
            poller = SqsPoller(source, sqs, self.runtime.invoke, region=self.options.region)
            self._pollers.append(poller)
            for index in range(source.concurrency):
                thread = threading.Thread(
                    target=poller.run,
                    args=(self._stop_polling,),
                    name=f"sqs:{source.function}:{index}",
                    daemon=True,
                )
                thread.start()
                self._poller_threads.append(thread)

    def stop_pollers(self) -> None:
        """Stop the SQS pollers, each after its current batch (an event source mapping disabled)."""
        self._stop_polling.set()
        for thread in self._poller_threads:
            thread.join(timeout=30)
        self._stop_polling = threading.Event()
        self._pollers, self._poller_threads = [], []

    def restart_pollers(self) -> None:
        """Stop the SQS pollers and start fresh ones (fault tests: a poller restarted mid-flight)."""
        self.stop_pollers()
        self._start_pollers()

    def _start_watcher(self) -> None:
        assert self.resources is not None
        assert self.runtime is not None
        self._watcher = ExecutionWatcher.for_template(
            self.template,
            self.resources,
            self.client("stepfunctions"),
            self.runtime.invoke,
            delivered=self._delivered_events,
        )
        self._watcher.start()

    def restart_watcher(self) -> None:
        """Stop the ended-execution watcher and start a fresh one (what it delivered stays so)."""
        if self._watcher is not None:
            self._watcher.stop()
        self._start_watcher()

    def stop(self) -> None:
        """Stop everything; safe to call twice and after a failed start."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_polling.set()
        if self._watcher is not None:
            self._watcher.stop()
        if self._scheduler is not None:
            self._scheduler.stop()
        for thread in self._poller_threads:
            thread.join(timeout=10)
        if self._front is not None:
            self._front.stop()
        if self.runtime is not None:
            self.runtime.close()
        if self._invoke_server is not None:
            self._invoke_server.stop()
        if self.moto is not None:
            self.moto.stop()
        for simulator in (self.bank, self.bureau):
            if simulator is not None:
                simulator.stop()
        auth.CloudInfo.clear(self.options.state_dir, os.getpid())

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
