"""The AWS bill per N applications, by service, from the repository's own facts.

Where each number comes from:

- prices: ``costmodel/prices.json`` (region, date and sources inside);
- which Lambda functions run and how many Step Functions transitions an application costs: a walk
  of the state machine's ASL (``template.yaml`` → ``DefinitionUri``) along a scenario's path
  (``approved``: the longest common path, validation → checks → score → decide → offer → contract →
  signature → instant payout; ``approved_batch``: the same with the scheduled batch payout;
  ``declined``), Parallel branches and Map iterations included;
- memory of each function: ``MemorySize`` in template.yaml (Globals merged);
- duration of each function: the measured mean in ``bench/results/latest.json`` (``bench_compute``:
  ``<LogicalId>.duration_ms``) when present, else ``DEFAULT_DURATION_MS`` — the bill says which;
- DynamoDB, KMS, S3, SQS requests per application: ``USAGE`` below, derived from the access patterns
  in docs/data-model.md (each entry says why).

``--express`` prices the design answer of docs/scaling.md: everything before the first callback
(``.waitForTaskToken``) or Wait state runs as an Express child workflow started by one
``states:startExecution.sync`` state of the Standard lifecycle.

Free tiers are ignored (the bill is an upper bound for a small lender's first months).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from localcloud.provision import function_properties
from localcloud.template import ROOT, load_template

PRICES_PATH = Path(__file__).with_name("prices.json")
RESULTS_PATH = ROOT / "bench" / "results" / "latest.json"
TARGET_CNY_PER_APPLICATION = 0.01

Workflow = Literal["standard", "express"]
Scenario = Literal["approved", "approved_batch", "declined"]
OcrEngine = Literal["local", "textract"]

DEFAULT_DURATION_MS = 100.0
"""Warm handler duration assumed when bench/results/latest.json has no measurement for a function."""

EXPRESS_OVERHEAD_MS_PER_STATE = 25.0
"""Step Functions' own time per state in an Express execution (added to the tasks' durations)."""

COLD_START_RATE = 0.01
"""Share of invocations that start a new execution environment (INIT is billed since 2025-08-01)."""

_PLACEHOLDER = re.compile(r"^\$\{(?P<name>[A-Za-z0-9]+)\}$")
OCR_FUNCTION = re.compile(r"extract|ocr|autofill", re.IGNORECASE)
"""Functions whose compute is OCR: billed under "OCR", apart from the per-application target."""


@dataclass(frozen=True)
class Usage:
    quantity: float
    why: str


# Requests an application causes outside the state machine's walk, per application.
# Derived from docs/data-model.md (foundation: applications) and the HTTP contract (DESIGN.md §5).
USAGE: dict[str, Usage] = {
    "api_requests": Usage(
        12,
        "POST /documents ×2, POST /autofill, POST /applications, POST submit, GET status ×3 "
        "(polling), GET contract, POST contract/sign, GET /loans/{id}",
    ),
    "dynamodb_wru_per_status_change": Usage(
        11,
        "TransactWriteItems: Update META (≈3 KB, transactional ×2 = 6 WRU) + Put EVT (≤1 KB, ×2 = 2 WRU) "
        "+ GSI1 copy of META (ProjectionType ALL, ≈3 KB = 3 WRU)",
    ),
    "dynamodb_status_changes": Usage(
        8,
        "create DRAFT, SUBMITTED, IN_PROGRESS, APPROVED (+offer), AWAITING_SIGNATURE, SIGNED, "
        "DISBURSING, FUNDED (approved path; declined: 4)",
    ),
    "dynamodb_other_wru": Usage(
        12,
        "idempotency record put+update (2), hourly create counter (1), 2 document items + OCR "
        "results (4), loan item (2), ledger entry (2), payout record (1)",
    ),
    "dynamodb_rru": Usage(
        16,
        "strongly consistent GetItem of the application (1 RRU, ≤4 KB) by each task and request "
        "that reads it (≈12), timeline Query on GET (3 × 1 RRU), idempotency GetItem (1)",
    ),
    "kms_symmetric_requests": Usage(
        9,
        "Encrypt the PII blob (1), GenerateMac for ID/phone/card hashes (3), Decrypt by validation, "
        "bureau, contract, payout and one owner read (5)",
    ),
    "kms_asymmetric_requests": Usage(1, "Sign the contract's SHA-256 (platform signature)"),
    "sqs_requests": Usage(
        3, "SendMessage to the intake queue, the poller's ReceiveMessage and DeleteMessage"
    ),
    "s3_put": Usage(3, "2 document uploads (presigned PUT) + the contract PDF"),
    "s3_get": Usage(3, "OCR reads the 2 documents, the owner downloads the contract once"),
    "s3_gb_month": Usage(
        0.0012, "≈1.2 MB kept (2 photos ≈0.5 MB each, contract ≈0.1 MB), one month"
    ),
    "log_gb": Usage(
        0.00003, "≈30 KB of structured logs per application (START/END/REPORT + powertools lines)"
    ),
    "xray_traces": Usage(2, "the API request's trace and the workflow's trace (sampled 100%)"),
    "ocr_pages": Usage(2, "ID card and bank card, one page each"),
}

# The scenario's answers to the ASL's Choice states: the sample state data they are evaluated on.
SCENARIO_DATA: dict[str, dict[str, Any]] = {
    "approved": {
        "lane": "standard",
        "validation": {"passed": True},
        "documents": {
            "count": 2,
            "items": [{"document_id": "id-card"}, {"document_id": "bank-card"}],
        },
        "bureau": {"available": True, "has_file": True},
        "behaviour": {},
        "score": {"pd": 0.03, "score": 720},
        "decision": {"outcome": "approved", "tier": "A", "instant_payout": True},
        "offer": {"accepted": True},
        "contract": {"ready": True},
        "signature": {"signed": True, "outcome": "signed", "status": "SIGNED"},
        "payout": {"payout_status": "SENT", "mode": "instant"},
    },
    "declined": {
        "lane": "standard",
        "validation": {"passed": True},
        "documents": {
            "count": 2,
            "items": [{"document_id": "id-card"}, {"document_id": "bank-card"}],
        },
        "bureau": {"available": True, "has_file": True},
        "behaviour": {},
        "score": {"pd": 0.4, "score": 480},
        "decision": {"outcome": "declined", "tier": "D"},
    },
}
SCENARIO_DATA["approved_batch"] = {
    **SCENARIO_DATA["approved"],
    "decision": {"outcome": "approved", "tier": "B"},
    "payout": {"payout_status": "QUEUED", "mode": "batch"},
}
STATUS_CHANGES = {"approved": 8, "approved_batch": 8, "declined": 4}
BATCH_PAYOUT_RUNS_PER_LOAN = 1 / 1000
"""A scheduled batch run pays up to the bank's 1,000 transfers per request (loanflow.bank)."""


# -------------------------------------------------------------------------------- the bill


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    unit_price: float
    cost: float
    basis: str = ""


@dataclass
class Bill:
    applications: int
    workflow: Workflow
    scenario: Scenario
    ocr: OcrEngine
    region: str
    prices_as_of: str
    lines: list[Line] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    durations_source: dict[str, str] = field(default_factory=dict)
    cny_per_usd: float = 7.1

    def add(
        self,
        service: str,
        item: str,
        quantity: float,
        unit: str,
        unit_price: float,
        basis: str = "",
    ) -> None:
        self.lines.append(
            Line(service, item, quantity, unit, unit_price, quantity * unit_price, basis)
        )

    @property
    def total_usd(self) -> float:
        return sum(line.cost for line in self.lines)

    @property
    def ocr_usd(self) -> float:
        return sum(line.cost for line in self.lines if line.service == "OCR")

    @property
    def per_application_usd(self) -> float:
        return self.total_usd / self.applications

    @property
    def per_application_excluding_ocr_usd(self) -> float:
        return (self.total_usd - self.ocr_usd) / self.applications

    @property
    def per_application_excluding_ocr_cny(self) -> float:
        return self.per_application_excluding_ocr_usd * self.cny_per_usd

    @property
    def meets_target(self) -> bool:
        return self.per_application_excluding_ocr_cny < TARGET_CNY_PER_APPLICATION

    def by_service(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.service] = totals.get(line.service, 0.0) + line.cost
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "applications": self.applications,
            "workflow": self.workflow,
            "scenario": self.scenario,
            "ocr": self.ocr,
            "region": self.region,
            "prices_as_of": self.prices_as_of,
            "currency": "USD",
            "total_usd": self.total_usd,
            "per_application_usd": self.per_application_usd,
            "per_application_excluding_ocr_usd": self.per_application_excluding_ocr_usd,
            "per_application_excluding_ocr_cny": self.per_application_excluding_ocr_cny,
            "target_cny_per_application": TARGET_CNY_PER_APPLICATION,
            "meets_target": self.meets_target,
            "by_service_usd": self.by_service(),
            "lines": [asdict(line) for line in self.lines],
            "state_path": self.path,
            "durations_source": self.durations_source,
        }


# -------------------------------------------------------------------------------- inputs


def load_prices(path: Path = PRICES_PATH) -> dict[str, Any]:
    prices: dict[str, Any] = json.loads(path.read_text())
    for key in ("region", "as_of", "currency", "sources"):
        if key not in prices:
            raise ValueError(f"{path}: the price table must say its {key}")
    return prices


def measured_durations(results_path: Path = RESULTS_PATH) -> dict[str, dict[str, float]]:
    """Per function logical id: mean handler duration and cold-start init (ms), when measured."""
    if not results_path.exists():
        return {}
    results = json.loads(results_path.read_text())
    modules = results.get("modules") or {}
    out: dict[str, dict[str, float]] = {}
    compute = ((modules.get("bench_compute") or {}).get("figures")) or {}
    for name, figure in compute.items():
        if name.endswith(".duration_ms") and "mean" in figure:
            out.setdefault(name.removesuffix(".duration_ms"), {})["duration_ms"] = float(
                figure["mean"]
            )
    cold = ((modules.get("bench_coldstart") or {}).get("figures")) or {}
    for name, figure in cold.items():
        if name.endswith(".init_ms") and "p50" in figure:
            out.setdefault(name.removesuffix(".init_ms"), {})["init_ms"] = float(figure["p50"])
    return out


@dataclass(frozen=True)
class StateMachine:
    logical_id: str
    type: str
    definition: dict[str, Any]
    functions: dict[str, str]  # placeholder name → function logical id


def state_machines(template: dict[str, Any], base_dir: Path = ROOT) -> list[StateMachine]:
    machines = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::StateMachine":
            continue
        props = resource.get("Properties") or {}
        if "DefinitionUri" in props and isinstance(props["DefinitionUri"], str):
            definition = json.loads((base_dir / props["DefinitionUri"]).read_text())
        elif isinstance(props.get("Definition"), dict):
            definition = props["Definition"]
        else:
            continue
        functions = {}
        for name, value in (props.get("DefinitionSubstitutions") or {}).items():
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                functions[name] = value["Fn::GetAtt"][0]
        machines.append(
            StateMachine(logical_id, str(props.get("Type", "STANDARD")), definition, functions)
        )
    return machines


def function_memory(template: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Per function: configured MemorySize (MB) and architecture."""
    out = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = function_properties(template, logical_id)
        arch = (props.get("Architectures") or ["x86_64"])[0]
        out[logical_id] = (int(props.get("MemorySize", 128)), str(arch))
    return out


# -------------------------------------------------------------------------------- the ASL walk


@dataclass(frozen=True)
class Step:
    """One state entered: a billed transition in a Standard workflow."""

    name: str
    type: str
    function: str | None  # the Lambda function a Task invokes, if any
    callback: bool  # .waitForTaskToken, .sync or a Wait state: cannot run in Express


def _lookup(data: Any, path: str) -> Any:
    if not path.startswith("$"):
        raise ValueError(f"unsupported path {path!r}")
    current = data
    for part in [p for p in re.split(r"\.|\[(\d+)\]", path[1:]) if p]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise KeyError(path)
    return current


_COMPARISONS = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _rule_matches(rule: dict[str, Any], data: dict[str, Any]) -> bool:
    if "And" in rule:
        return all(_rule_matches(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(_rule_matches(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not _rule_matches(rule["Not"], data)
    variable = rule.get("Variable")
    if not isinstance(variable, str):
        raise ValueError(f"unsupported Choice rule {rule!r}")
    try:
        value = _lookup(data, variable)
        present = True
    except KeyError:
        value, present = None, False
    if "IsPresent" in rule:
        return present == bool(rule["IsPresent"])
    if not present:
        return False  # a scenario that does not set a variable takes the Default branch
    if "IsNull" in rule:
        return (value is None) == bool(rule["IsNull"])
    if "IsBoolean" in rule:
        return isinstance(value, bool) == bool(rule["IsBoolean"])
    for key, expected in rule.items():
        if key in ("Variable", "Next"):
            continue
        for kind in ("String", "Numeric", "Boolean", "Timestamp"):
            if key.startswith(kind):
                op = key[len(kind) :]
                if op.endswith("Path"):
                    op, expected = op[: -len("Path")], _lookup(data, expected)
                if op == "Matches":
                    return re.fullmatch(str(expected).replace("*", ".*"), str(value)) is not None
                if op in _COMPARISONS:
                    try:
                        return bool(_COMPARISONS[op](value, expected))
                    except TypeError:
                        return False
        raise ValueError(f"unsupported Choice operator {key!r}")
    raise ValueError(f"Choice rule without a comparison: {rule!r}")


def walk(
    definition: dict[str, Any],
    data: dict[str, Any],
    functions: dict[str, str],
    *,
    map_items: int = 2,
    limit: int = 500,
) -> list[Step]:
    """The states one execution enters along the path the scenario's data chooses."""
    steps: list[Step] = []
    states = definition["States"]
    name: str | None = definition["StartAt"]
    while name is not None:
        if len(steps) > limit:
            raise RuntimeError("the walk does not end (a loop the scenario never leaves?)")
        state = states[name]
        kind = state["Type"]
        steps.append(_step(name, state, functions))
        if kind == "Parallel":
            for branch in state["Branches"]:
                steps.extend(walk(branch, data, functions, map_items=map_items, limit=limit))
        elif kind == "Map":
            body = state.get("ItemProcessor") or state.get("Iterator")
            items_path = state.get("ItemsPath", "$")
            try:
                items = _lookup(data, items_path)
                count = len(items) if isinstance(items, list) else map_items
            except KeyError:
                count = map_items
            for _ in range(count):
                steps.extend(walk(body, data, functions, map_items=map_items, limit=limit))
        if kind == "Choice":
            name = next(
                (rule["Next"] for rule in state.get("Choices", []) if _rule_matches(rule, data)),
                state.get("Default"),
            )
            if name is None:
                raise RuntimeError(f"Choice {steps[-1].name} has no matching rule and no Default")
        elif kind in ("Succeed", "Fail") or state.get("End"):
            name = None
        else:
            name = state["Next"]
    return steps


def _step(name: str, state: dict[str, Any], functions: dict[str, str]) -> Step:
    kind = state["Type"]
    resource = str(state.get("Resource", ""))
    function = None
    match = _PLACEHOLDER.match(resource)
    if match:
        function = functions.get(match.group("name"))
    elif resource.startswith("arn:aws:states:::lambda:invoke"):
        target = str((state.get("Parameters") or {}).get("FunctionName", ""))
        inner = _PLACEHOLDER.match(target)
        function = functions.get(inner.group("name")) if inner else None
    callback = (
        kind == "Wait" or resource.endswith(".waitForTaskToken") or resource.endswith(".sync")
    )
    return Step(name, kind, function, callback)


# -------------------------------------------------------------------------------- the estimate


def estimate(
    applications: int,
    *,
    workflow: Workflow = "standard",
    scenario: Scenario = "approved",
    ocr: OcrEngine = "local",
    prices: dict[str, Any] | None = None,
    template: dict[str, Any] | None = None,
    results_path: Path = RESULTS_PATH,
) -> Bill:
    if applications < 1:
        raise ValueError("applications must be at least 1")
    prices = prices or load_prices()
    template = template or load_template()
    n = applications
    bill = Bill(
        n,
        workflow,
        scenario,
        ocr,
        prices["region"],
        prices["as_of"],
        cny_per_usd=float(prices["cny_per_usd"]),
    )
    memory = function_memory(template)
    measured = measured_durations(results_path)

    def duration(function: str) -> float:
        if function in measured and "duration_ms" in measured[function]:
            bill.durations_source[function] = "measured (bench/results/latest.json)"
            return measured[function]["duration_ms"]
        bill.durations_source[function] = f"default {DEFAULT_DURATION_MS:.0f} ms"
        return DEFAULT_DURATION_MS

    invocations: dict[str, float] = {}

    def invoke(function: str, count: float) -> None:
        invocations[function] = invocations.get(function, 0.0) + count

    # -- the workflow
    machines = state_machines(template)
    if not machines:
        raise RuntimeError("template.yaml declares no state machine")
    machine = machines[0]
    data = SCENARIO_DATA[scenario]
    steps = walk(
        machine.definition, data, machine.functions, map_items=int(USAGE["ocr_pages"].quantity)
    )
    bill.path = [step.name for step in steps]
    for step in steps:
        if step.function:
            invoke(step.function, 1)

    sfn_std = prices["step_functions_standard"]["per_thousand_transitions"] / 1000
    if workflow == "standard":
        bill.add(
            "Step Functions",
            "Standard state transitions",
            len(steps) * n,
            "transitions",
            sfn_std,
            f"{len(steps)} states entered per application ({scenario} path)",
        )
    else:
        first_callback = next((i for i, s in enumerate(steps) if s.callback), len(steps))
        express, lifecycle = steps[:first_callback], steps[first_callback:]
        lifecycle_transitions = len(lifecycle) + 1  # + the startExecution.sync state
        bill.add(
            "Step Functions",
            "Standard lifecycle transitions",
            lifecycle_transitions * n,
            "transitions",
            sfn_std,
            f"{len(lifecycle)} lifecycle states + 1 nested-execution state",
        )
        exp = prices["step_functions_express"]
        bill.add(
            "Step Functions",
            "Express decision executions",
            n,
            "requests",
            exp["per_million_requests"] / 1e6,
            f"{len(express)} states in the Express child",
        )
        express_ms = sum(
            duration(s.function) for s in express if s.function
        ) + EXPRESS_OVERHEAD_MS_PER_STATE * len(express)
        billed_ms = (
            math.ceil(express_ms / exp["duration_increment_ms"]) * exp["duration_increment_ms"]
        )
        gb_hours = exp["memory_chunk_mb"] / 1024 * billed_ms / 1000 / 3600
        bill.add(
            "Step Functions",
            "Express duration",
            gb_hours * n,
            "GB-hours",
            exp["per_gb_hour"],
            f"{billed_ms} ms billed × {exp['memory_chunk_mb']} MB",
        )

    # -- requests outside the workflow
    api_requests = USAGE["api_requests"].quantity
    bill.add(
        "API Gateway",
        "HTTP API requests",
        api_requests * n,
        "requests",
        prices["api_gateway_http"]["per_million_requests"] / 1e6,
        USAGE["api_requests"].why,
    )
    if "ApiFunction" in memory:
        invoke("ApiFunction", api_requests)
    if "StarterFunction" in memory:
        invoke("StarterFunction", 1)
    if "BatchPayoutFunction" in memory and data.get("payout", {}).get("mode") == "batch":
        invoke("BatchPayoutFunction", BATCH_PAYOUT_RUNS_PER_LOAN)

    # -- Lambda
    for function, count in sorted(invocations.items()):
        mem_mb, arch = memory.get(function, (128, "x86_64"))
        rates = prices["lambda"].get(arch, prices["lambda"]["x86_64"])
        ms = math.ceil(duration(function))
        init_ms = measured.get(function, {}).get("init_ms", 0.0)
        gb_s = mem_mb / 1024 * (ms + COLD_START_RATE * init_ms) / 1000 * count
        service = "OCR" if OCR_FUNCTION.search(function) else "Lambda"
        bill.add(
            service,
            f"{function} compute",
            gb_s * n,
            "GB-s",
            rates["per_gb_second"],
            f"{count:g} invocation(s) × {ms} ms × {mem_mb} MB ({bill.durations_source[function]})",
        )
        bill.add(
            service,
            f"{function} requests",
            count * n,
            "requests",
            rates["per_million_requests"] / 1e6,
        )

    # -- DynamoDB, SQS, S3, KMS, observability
    ddb = prices["dynamodb_on_demand"]
    wru = (
        USAGE["dynamodb_wru_per_status_change"].quantity * STATUS_CHANGES[scenario]
        + USAGE["dynamodb_other_wru"].quantity
    )
    bill.add(
        "DynamoDB",
        "write request units",
        wru * n,
        "WRU",
        ddb["per_million_write_request_units"] / 1e6,
        f"{STATUS_CHANGES[scenario]} status changes × {USAGE['dynamodb_wru_per_status_change'].quantity:g} WRU + {USAGE['dynamodb_other_wru'].quantity:g} other",
    )
    bill.add(
        "DynamoDB",
        "read request units",
        USAGE["dynamodb_rru"].quantity * n,
        "RRU",
        ddb["per_million_read_request_units"] / 1e6,
        USAGE["dynamodb_rru"].why,
    )
    bill.add(
        "SQS",
        "standard queue requests",
        USAGE["sqs_requests"].quantity * n,
        "requests",
        prices["sqs_standard"]["per_million_requests"] / 1e6,
        USAGE["sqs_requests"].why,
    )
    s3 = prices["s3_standard"]
    bill.add(
        "S3",
        "PUT requests",
        USAGE["s3_put"].quantity * n,
        "requests",
        s3["put_per_thousand"] / 1000,
        USAGE["s3_put"].why,
    )
    bill.add(
        "S3",
        "GET requests",
        USAGE["s3_get"].quantity * n,
        "requests",
        s3["get_per_thousand"] / 1000,
        USAGE["s3_get"].why,
    )
    bill.add(
        "S3",
        "storage, one month",
        USAGE["s3_gb_month"].quantity * n,
        "GB-month",
        s3["storage_per_gb_month"],
        USAGE["s3_gb_month"].why,
    )
    kms = prices["kms"]
    bill.add(
        "KMS",
        "symmetric/HMAC requests",
        USAGE["kms_symmetric_requests"].quantity * n,
        "requests",
        kms["symmetric_per_10k_requests"] / 1e4,
        USAGE["kms_symmetric_requests"].why,
    )
    bill.add(
        "KMS",
        "asymmetric sign requests",
        USAGE["kms_asymmetric_requests"].quantity * n,
        "requests",
        kms["asymmetric_per_10k_requests"] / 1e4,
        USAGE["kms_asymmetric_requests"].why,
    )
    bill.add(
        "CloudWatch",
        "log ingestion",
        USAGE["log_gb"].quantity * n,
        "GB",
        prices["cloudwatch_logs"]["ingest_per_gb"],
        USAGE["log_gb"].why,
    )
    bill.add(
        "X-Ray",
        "traces recorded",
        USAGE["xray_traces"].quantity * n,
        "traces",
        prices["xray"]["per_million_traces_recorded"] / 1e6,
        USAGE["xray_traces"].why,
    )

    # -- OCR (reported, excluded from the target)
    pages = USAGE["ocr_pages"].quantity
    if ocr == "textract":
        bill.add(
            "OCR",
            "Textract AnalyzeDocument (forms) pages",
            pages * n,
            "pages",
            prices["textract"]["analyze_forms_per_thousand_pages"] / 1000,
            USAGE["ocr_pages"].why,
        )
    return bill
