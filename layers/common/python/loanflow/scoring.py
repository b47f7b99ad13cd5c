"""The credit model at serving time: probability of default, score and adverse reasons.

The model is a LightGBM text model plus ``scoring.json`` (feature order, category codes, probability
calibration and score scaling), both written by ``loanflow model train``. It runs through LightGBM's
C library (``lib_lightgbm.so``) called with :mod:`ctypes`: no numpy, scipy or the ``lightgbm``
Python package at run time, which keeps the scoring function far below Lambda's size limit
(docs/model.md explains the choice and its measurements).

Where things come from (environment, read once at cold start):

- ``MODEL_DIR``: the directory holding ``scoring.json`` and the model file (``/opt/model`` in the
  scoring layer on Lambda; the template sets it).
- ``LIGHTGBM_LIBRARY``: the C library, by path or by name. The default ``lib_lightgbm.so`` is found
  by the dynamic loader's search path, which on Lambda includes the layers' ``/opt/lib``, where the
  scoring layer ships it together with ``libgomp.so.1``.

Adverse reasons are the features with the largest positive contributions to the raw score
(LightGBM's ``pred_contrib``, TreeSHAP: relative to the training population's average), i.e. what
pushed this applicant's risk above average, mapped to plain-language text.
"""

from __future__ import annotations

import bisect
import ctypes
import json
import math
import os
import threading
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loanflow.errors import ValidationFailed
from loanflow.features import ScoringFeatures

CONFIG_FILE: Final = "scoring.json"
MAX_REASONS: Final = 4

_DTYPE_FLOAT64: Final = 1
_ROW_MAJOR: Final = 1
_PREDICT_RAW_SCORE: Final = 1
_PREDICT_CONTRIB: Final = 3


class ScoringFailed(RuntimeError):
    """LightGBM's C library reported an error (its own message is included)."""


class ModelUnavailable(ScoringFailed):
    """The model or the LightGBM library cannot be loaded: the function cannot start."""


@dataclass(frozen=True, slots=True)
class ScoringSettings:
    """Where the scoring runtime finds its model and its C library, read once at cold start.

    Two variables, read directly: importing pydantic-settings would add 100–300 ms to the scoring
    function's cold start, which imports nothing else that needs it.
    """

    model_dir: Path
    lightgbm_library: str = "lib_lightgbm.so"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ScoringSettings:
        model_dir = environ.get("MODEL_DIR", "").strip()
        if not model_dir:
            raise ModelUnavailable("the scoring model is not configured: set MODEL_DIR")
        library = environ.get("LIGHTGBM_LIBRARY", "").strip() or "lib_lightgbm.so"
        return cls(model_dir=Path(model_dir), lightgbm_library=library)


class Reason(BaseModel):
    """One adverse reason: what raised this applicant's risk, in plain language."""

    model_config = ConfigDict(frozen=True)

    code: Annotated[str, Field(description="Stable reason code, e.g. BUREAU_DELINQUENCY")]
    feature: Annotated[str, Field(description="The model feature behind the reason")]
    text: Annotated[str, Field(description="Plain-language reason, Chinese with an English gloss")]
    contribution: Annotated[float, Field(description="Raw-score (log-odds) contribution, > 0")]


class ScoreResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    pd: Annotated[float, Field(ge=0, le=1, description="Calibrated probability of default")]
    score: Annotated[int, Field(description="Points: higher is better; fixed points double odds")]
    model_version: str
    reasons: Annotated[list[Reason], Field(description="Up to 4 adverse reasons, strongest first")]


# feature -> (code, text); "<feature>:missing" is used when the value is unknown.
REASON_TEXTS: Final[dict[str, tuple[str, str]]] = {
    "age": ("AGE_PROFILE", "年龄段风险较高 (age group carries higher risk)"),
    "monthly_income": ("LOW_INCOME", "月收入偏低 (monthly income is low)"),
    "employment": ("EMPLOYMENT_TYPE", "职业类型稳定性较低 (employment type is less stable)"),
    "requested_amount": ("AMOUNT_HIGH", "申请金额相对偏高 (requested amount is high)"),
    "term_months": ("TERM_LONG", "借款期限风险较高 (loan term carries higher risk)"),
    "debt_to_income": ("HIGH_DEBT_BURDEN", "现有负债收入比过高 (existing debt is high vs income)"),
    "bureau_score": ("LOW_BUREAU_SCORE", "征信评分偏低 (credit bureau score is low)"),
    "bureau_score:missing": ("NO_BUREAU_FILE", "无征信记录 (no credit bureau file)"),
    "bureau_history_months": (
        "SHORT_CREDIT_HISTORY",
        "信用记录时间较短 (credit history is short)",
    ),
    "bureau_open_accounts": ("OPEN_ACCOUNTS", "在贷账户数量不利 (number of open accounts)"),
    "bureau_inquiries_6m": (
        "RECENT_INQUIRIES",
        "近6个月征信查询次数多 (many credit inquiries in the last 6 months)",
    ),
    "bureau_delinquencies_24m": (
        "BUREAU_DELINQUENCY",
        "近24个月有逾期记录 (late payments in the last 24 months)",
    ),
    "bureau_max_dpd_24m": (
        "SEVERE_DELINQUENCY",
        "近24个月最长逾期天数较长 (long days past due in the last 24 months)",
    ),
    "bureau_utilization": (
        "HIGH_UTILIZATION",
        "信用额度使用率过高 (revolving credit utilisation is high)",
    ),
    "bureau_utilization:missing": ("NO_REVOLVING_HISTORY", "无循环信用记录 (no revolving credit)"),
    "velocity_id_24h": (
        "ID_VELOCITY",
        "24小时内同一身份多次申请 (several applications by this ID in 24 h)",
    ),
    "velocity_device_24h": (
        "DEVICE_VELOCITY",
        "24小时内同一设备多次申请 (several applications from this device in 24 h)",
    ),
    "velocity_phone_24h": (
        "PHONE_VELOCITY",
        "24小时内同一手机号多次申请 (several applications by this phone in 24 h)",
    ),
    "velocity_ip_1h": (
        "IP_VELOCITY",
        "1小时内同一IP多次申请 (several applications from this IP in 1 h)",
    ),
    "form_fill_seconds": ("FORM_FILL_TIME", "填表时长异常 (unusual form-filling time)"),
    "application_hour": ("UNUSUAL_HOUR", "申请时间异常 (application at an unusual hour)"),
    "device_ip_mismatch": (
        "DEVICE_IP_MISMATCH",
        "设备所在地与IP地址不一致 (device region differs from IP region)",
    ),
    "returning_customer": ("NEW_CUSTOMER", "无本平台还款记录 (no repayment history with us)"),
}


@dataclass(frozen=True, slots=True)
class ScoreScaling:
    """``score = offset + factor · ln(good odds)``, ``factor = pdo / ln 2``: every ``pdo`` points
    double the odds of repaying; ``base_score`` points mean odds of ``base_odds`` to 1."""

    base_score: float
    base_odds: float
    pdo: float
    min_score: int
    max_score: int

    def points(self, pd: float) -> int:
        factor = self.pdo / math.log(2.0)
        offset = self.base_score - factor * math.log(self.base_odds)
        pd = min(max(pd, 1e-9), 1.0 - 1e-9)
        raw = offset + factor * math.log((1.0 - pd) / pd)
        return int(min(max(round(raw), self.min_score), self.max_score))


@dataclass(frozen=True, slots=True)
class Calibration:
    """Raw LightGBM margin → probability of default: Platt (``sigmoid(a·raw + b)``) or isotonic
    (piecewise-linear through ``xs``/``ys``, flat outside)."""

    method: Literal["platt", "isotonic", "none"]
    a: float = 1.0
    b: float = 0.0
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()

    def probability(self, raw: float) -> float:
        if self.method == "isotonic":
            return _interpolate(self.xs, self.ys, raw)
        z = self.a * raw + self.b if self.method == "platt" else raw
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)


def _interpolate(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)


class _LightGBM:
    """The few LightGBM C API calls the runtime needs, with their argument types."""

    def __init__(self, library: str) -> None:
        try:
            lib = ctypes.CDLL(library)
        except OSError as exc:
            raise ModelUnavailable(f"cannot load the LightGBM library {library!r}: {exc}") from exc
        lib.LGBM_GetLastError.restype = ctypes.c_char_p
        handle_p = ctypes.POINTER(ctypes.c_void_p)
        i64_p, f64_p = ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_double)
        signatures: dict[str, list[Any]] = {
            "LGBM_BoosterLoadModelFromString": [
                ctypes.c_char_p,
                ctypes.POINTER(ctypes.c_int),
                handle_p,
            ],
            "LGBM_BoosterGetNumFeature": [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)],
            "LGBM_BoosterFree": [ctypes.c_void_p],
            "LGBM_BoosterPredictForMat": [
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.c_int,
                ctypes.c_int32,
                ctypes.c_int32,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_char_p,
                i64_p,
                f64_p,
            ],
            "LGBM_BoosterPredictForMatSingleRowFastInit": [
                ctypes.c_void_p,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int32,
                ctypes.c_char_p,
                handle_p,
            ],
            "LGBM_BoosterPredictForMatSingleRowFast": [
                ctypes.c_void_p,
                ctypes.c_void_p,
                i64_p,
                f64_p,
            ],
            "LGBM_FastConfigFree": [ctypes.c_void_p],
        }
        for name, argtypes in signatures.items():
            function = getattr(lib, name)
            function.argtypes = argtypes
            function.restype = ctypes.c_int
        self.lib = lib

    def check(self, status: int, error: type[ScoringFailed] = ScoringFailed) -> None:
        if status != 0:
            message = self.lib.LGBM_GetLastError().decode("utf-8", "replace")
            raise error(f"LightGBM error: {message}")


class Scorer:
    """A loaded model. Thread-safe; build it once per process with :meth:`load`."""

    def __init__(
        self,
        *,
        api: _LightGBM,
        booster: ctypes.c_void_p,
        features: tuple[str, ...],
        categories: Mapping[str, Mapping[str, int]],
        calibration: Calibration,
        scaling: ScoreScaling,
        model_version: str,
    ) -> None:
        self._api = api
        self._booster = booster
        self.features = features
        self.categories = categories
        self.calibration = calibration
        self.scaling = scaling
        self.model_version = model_version
        self._ncol = len(features)
        self._row_type = ctypes.c_double * self._ncol
        self._contrib = (ctypes.c_double * (self._ncol + 1))()
        self._out_len = ctypes.c_int64()
        self._lock = threading.Lock()
        self._fast = ctypes.c_void_p()
        api.check(
            api.lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster,
                _PREDICT_CONTRIB,
                0,
                -1,
                _DTYPE_FLOAT64,
                self._ncol,
                b"num_threads=1",
                ctypes.byref(self._fast),
            ),
            ModelUnavailable,
        )

    @classmethod
    def load(cls, model_dir: Path | str, library: str = "lib_lightgbm.so") -> Scorer:
        """Read ``scoring.json`` and its model file from ``model_dir`` and load the booster."""
        model_dir = Path(model_dir)
        try:
            config = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
            model_text = (model_dir / config["model_file"]).read_bytes()
        except (OSError, ValueError, KeyError) as exc:
            raise ModelUnavailable(f"no usable model in {model_dir}: {exc}") from exc
        api = _LightGBM(library)
        booster = ctypes.c_void_p()
        iterations = ctypes.c_int()
        api.check(
            api.lib.LGBM_BoosterLoadModelFromString(
                model_text, ctypes.byref(iterations), ctypes.byref(booster)
            ),
            ModelUnavailable,
        )
        features = tuple(config["features"])
        n_features = ctypes.c_int()
        api.check(
            api.lib.LGBM_BoosterGetNumFeature(booster, ctypes.byref(n_features)), ModelUnavailable
        )
        if n_features.value != len(features):
            raise ModelUnavailable(
                f"model has {n_features.value} features, {CONFIG_FILE} lists {len(features)}"
            )
        calibration = config.get("calibration", {"method": "none"})
        return cls(
            api=api,
            booster=booster,
            features=features,
            categories={
                name: {value: code for code, value in enumerate(values)}
                for name, values in config.get("categories", {}).items()
            },
            calibration=Calibration(
                method=calibration["method"],
                a=calibration.get("a", 1.0),
                b=calibration.get("b", 0.0),
                xs=tuple(calibration.get("xs", ())),
                ys=tuple(calibration.get("ys", ())),
            ),
            scaling=ScoreScaling(**config["scaling"]),
            model_version=config["model_version"],
        )

    def close(self) -> None:
        if self._fast:
            self._api.lib.LGBM_FastConfigFree(self._fast)
            self._fast = ctypes.c_void_p()
        if self._booster:
            self._api.lib.LGBM_BoosterFree(self._booster)
            self._booster = ctypes.c_void_p()

    def encode(self, values: Mapping[str, Any]) -> list[float]:
        """One applicant as the model's row: categories as codes, unknowns as NaN."""
        row = []
        for name in self.features:
            value = values.get(name)
            codes = self.categories.get(name)
            if codes is not None:
                code = codes.get(value) if value is not None else None
                row.append(math.nan if code is None else float(code))
            else:
                row.append(math.nan if value is None else float(value))
        return row

    def contributions(self, row: Sequence[float]) -> list[float]:
        """Per-feature contributions to the raw margin, then the bias term (they sum to it)."""
        values = self._row_type(*row)
        with self._lock:
            self._api.check(
                self._api.lib.LGBM_BoosterPredictForMatSingleRowFast(
                    self._fast, values, ctypes.byref(self._out_len), self._contrib
                )
            )
            return self._contrib[: self._ncol + 1]

    def score(self, features: ScoringFeatures | Mapping[str, Any]) -> ScoreResult:
        """Probability of default, points and the top adverse reasons of one applicant."""
        values = features.model_dump() if isinstance(features, ScoringFeatures) else features
        row = self.encode(values)
        contributions = self.contributions(row)
        pd = self.calibration.probability(math.fsum(contributions))
        return ScoreResult(
            pd=pd,
            score=self.scaling.points(pd),
            model_version=self.model_version,
            reasons=self.reasons(values, contributions),
        )

    def reasons(self, values: Mapping[str, Any], contributions: Sequence[float]) -> list[Reason]:
        adverse = sorted(
            (c, name) for name, c in zip(self.features, contributions, strict=False) if c > 0
        )
        reasons = []
        for contribution, name in reversed(adverse[-MAX_REASONS:]):
            key = f"{name}:missing" if values.get(name) is None else name
            code, text = REASON_TEXTS.get(key) or REASON_TEXTS.get(name) or _generic(name)
            reasons.append(
                Reason(code=code, feature=name, text=text, contribution=round(contribution, 6))
            )
        return reasons

    def raw_scores(self, rows: Sequence[Sequence[float]], *, threads: int = 0) -> list[float]:
        """Raw margins of many encoded rows in one C call (``threads=0``: OpenMP's default)."""
        data = array("d")
        for row in rows:
            data.extend(row)
        return self.raw_scores_flat(data, len(rows), threads=threads)

    def raw_scores_flat(self, data: Any, n_rows: int, *, threads: int = 0) -> list[float]:
        """Like :meth:`raw_scores` on a flat row-major float64 buffer (e.g. ``array('d')``)."""
        if n_rows == 0:
            return []
        buffer = (ctypes.c_double * (n_rows * self._ncol)).from_buffer(data)
        return self._predict_matrix(buffer, n_rows, threads)

    def probabilities(self, raw: Sequence[float]) -> list[float]:
        return [self.calibration.probability(r) for r in raw]

    def _predict_matrix(self, data: Any, n_rows: int, threads: int) -> list[float]:
        out = (ctypes.c_double * n_rows)()
        out_len = ctypes.c_int64()
        parameter = f"num_threads={threads}".encode() if threads else b""
        self._api.check(
            self._api.lib.LGBM_BoosterPredictForMat(
                self._booster,
                data,
                _DTYPE_FLOAT64,
                n_rows,
                self._ncol,
                _ROW_MAJOR,
                _PREDICT_RAW_SCORE,
                0,
                -1,
                parameter,
                ctypes.byref(out_len),
                out,
            )
        )
        return out[:n_rows]


def _generic(feature: str) -> tuple[str, str]:
    return feature.upper(), f"{feature} 对评分不利 ({feature} lowered the score)"


@cache
def get_scorer() -> Scorer:
    """The process's scorer, loaded once (Lambda cold start) from ``MODEL_DIR``."""
    settings = ScoringSettings.from_environment()
    return Scorer.load(settings.model_dir, settings.lightgbm_library)


_M = TypeVar("_M", bound=BaseModel)


class ScoreRequest(BaseModel):
    """The Score task's input: which application, and its features."""

    model_config = ConfigDict(extra="ignore")

    application_id: Annotated[str, Field(min_length=1, description="The application being scored")]
    features: ScoringFeatures


def parse_request(event: Any) -> ScoreRequest:
    """Validate a Score event; bad input is a :class:`ValidationFailed` naming the field."""
    return _validated(ScoreRequest, event, "invalid score request")


def parse_features(values: Any) -> ScoringFeatures:
    """Validate a features object; bad input is a :class:`ValidationFailed` naming the field."""
    return _validated(ScoringFeatures, values, "invalid features")


def _validated(model: type[_M], value: Any, what: str) -> _M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise ValidationFailed(f"{what}: {field}: {first['msg']}", field=field) from exc
