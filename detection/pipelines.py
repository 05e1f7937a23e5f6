"""pySigma processing pipelines resolved by name, combined into stacks, applied without a backend.

A *stack* is pipeline names joined by ``+`` (``sysmon+windows-logsources``); ``none`` keeps the
field names of the rule as they are. Pipelines are applied the way pySigma's backends do it:
sorted by priority, summed into one ``ProcessingPipeline`` and ``apply``-ed to each rule.

Why we do not simply use ``InstalledSigmaPlugins.autodiscover()``: in pySigma 1.5 the
``@Pipeline`` decorator is a process-wide singleton, so whichever decorated function was imported
last wins. Autodiscovery imports pySigma's own test pipelines after the Sysmon package, and
``pipelines["sysmon"]()`` then returns a *test* pipeline. We therefore build the Sysmon pipeline
from the package's published log-source → EventID table and only fall back to autodiscovery for
names we do not know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sigma.exceptions import SigmaError
from sigma.pipelines import elasticsearch
from sigma.pipelines.sysmon.sysmon import sysmon_generic_logsource_eventid_mapping
from sigma.pipelines.windows import windows_audit_pipeline, windows_logsource_pipeline
from sigma.plugins import InstalledSigmaPlugins
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    AddConditionTransformation,
    ChangeLogsourceTransformation,
    FieldFunctionTransformation,
)
from sigma.rule import SigmaRule

from core.errors import ValidationError

NO_PIPELINE = "none"


def _sysmon() -> ProcessingPipeline:
    """Generic log sources → Sysmon EventIDs (same items as pysigma-pipeline-sysmon 2.0)."""
    items: list[ProcessingItem] = []
    for category, event_id in sysmon_generic_logsource_eventid_mapping.items():
        items.append(
            ProcessingItem(
                identifier=f"sysmon_{category}_eventid",
                transformation=AddConditionTransformation({"EventID": cast(Any, event_id)}),
                rule_conditions=[LogsourceCondition(category=category, product="windows")],
            )
        )
        items.append(
            ProcessingItem(
                identifier=f"sysmon_{category}_logsource",
                transformation=ChangeLogsourceTransformation(
                    product="windows", service="sysmon", category=category
                ),
                rule_conditions=[LogsourceCondition(category=category, product="windows")],
            )
        )
    return ProcessingPipeline(
        name="Generic Log Sources to Sysmon Transformation", priority=10, items=items
    )


def _windows_logsources() -> ProcessingPipeline:
    return windows_logsource_pipeline()


def _windows_audit() -> ProcessingPipeline:
    return windows_audit_pipeline()


def _ecs(name: str) -> Callable[[], ProcessingPipeline]:
    def build() -> ProcessingPipeline:
        factory: Callable[[], ProcessingPipeline] = getattr(elasticsearch, name)
        return factory()

    return build


def known_pipelines() -> dict[str, Callable[[], ProcessingPipeline]]:
    """Pipeline names we resolve ourselves (see the module docstring for why)."""
    return {
        "sysmon": _sysmon,
        "windows-logsources": _windows_logsources,
        "windows-audit": _windows_audit,
        "ecs_windows": _ecs("ecs_windows"),
        "ecs_windows_old": _ecs("ecs_windows_old"),
        "ecs_zeek_beats": _ecs("ecs_zeek_beats"),
        "ecs_zeek_corelight": _ecs("ecs_zeek_corelight"),
        "ecs_kubernetes": _ecs("ecs_kubernetes"),
        "ecs_macos_esf": _ecs("ecs_macos_esf"),
    }


# ECS stacks map field names only; a rule with a log-source category and no service (most of
# SigmaHQ's Windows rules: ``category: process_creation``) got no ``winlog.channel`` condition
# from them and could not run. ``_ecs_windows_categories`` adds the channel and event id the
# category comes from: the Sysmon event ids of pySigma's Sysmon mapping, and for process
# creation also Security 4688 (pySigma's Windows audit mapping), whose ECS fields Winlogbeat
# fills alike (``process.executable``, ``process.command_line``...).
ECS_WINDOWS = frozenset({"ecs_windows", "ecs_windows_old"})
CATEGORY_PIPELINES = frozenset({"sysmon", "windows-audit"})
SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
SECURITY_CATEGORIES = {"process_creation": 4688}


def _ecs_windows_categories() -> ProcessingPipeline:
    """Category-only Windows rules -> (Sysmon channel and event id) or (Security and 4688)."""
    items: list[ProcessingItem] = []
    for category, event_id in sysmon_generic_logsource_eventid_mapping.items():
        sources: list[dict[str, Any]] = [{"Channel": SYSMON_CHANNEL, "EventID": event_id}]
        if category in SECURITY_CATEGORIES:
            sources.append({"Channel": "Security", "EventID": SECURITY_CATEGORIES[category]})
        items.append(
            ProcessingItem(
                identifier=f"ecs_windows_{category}_channel",
                # A list of maps is Sigma's OR of ANDs (``SigmaDetection.from_definition``).
                transformation=AddConditionTransformation(cast(Any, sources)),
                rule_conditions=[LogsourceCondition(category=category, product="windows")],
            )
        )
    return ProcessingPipeline(
        name="Channel and event id for category-only Windows rules (ECS)", priority=10, items=items
    )


def _no_caseless() -> ProcessingPipeline:
    """``process.executable.caseless`` -> ``process.executable``: matching is caseless anyway.

    ``ecs_windows`` names Elastic's case-insensitive sub-fields, which neither our events nor
    our Elasticsearch indices have.
    """
    return ProcessingPipeline(
        name="Drop .caseless from ECS field names",
        priority=1000,
        items=[
            ProcessingItem(
                identifier="ecs_windows_no_caseless",
                transformation=FieldFunctionTransformation(
                    mapping={}, transform_func=_without_caseless
                ),
            )
        ],
    )


def _without_caseless(name: str | None) -> str:
    name = name or ""
    return name[: -len(".caseless")] if name.endswith(".caseless") else name


def split_stack(stack: str) -> list[str]:
    """Pipeline names of a stack string; ``none`` (or empty) gives no pipelines."""
    names = [part.strip() for part in stack.split("+") if part.strip()]
    if names == [NO_PIPELINE] or not names:
        return []
    if NO_PIPELINE in names:
        raise ValidationError("pipeline", f"'none' cannot be combined with others in {stack!r}")
    return names


def resolve_stack(stack: str) -> ProcessingPipeline | None:
    """One combined pipeline for a stack, or None for ``none``; unknown names raise."""
    names = split_stack(stack)
    if not names:
        return None
    known = known_pipelines()
    pipelines: list[ProcessingPipeline] = []
    for name in names:
        factory = known.get(name)
        if factory is None:
            factory = _discovered(name)
        pipelines.append(factory())
    if ECS_WINDOWS.intersection(names):
        if not CATEGORY_PIPELINES.intersection(names):
            pipelines.append(_ecs_windows_categories())
        pipelines.append(_no_caseless())
    ordered = sorted(pipelines, key=lambda p: p.priority)
    combined = ordered[0]
    for pipeline in ordered[1:]:
        combined = combined + pipeline
    return combined


def _discovered(name: str) -> Callable[[], ProcessingPipeline]:
    """A pipeline from an installed pySigma plugin (anything beyond the names we know)."""
    plugins = InstalledSigmaPlugins.autodiscover(include_backends=False, include_validators=False)
    found = plugins.pipelines.get(name)
    if found is None:
        available = sorted({*known_pipelines(), *plugins.pipelines, NO_PIPELINE})
        raise ValidationError("pipeline", f"unknown pipeline {name!r}; known: {available}")
    if isinstance(found, ProcessingPipeline):
        pipeline = found
        return lambda: pipeline
    return found  # type: ignore[no-any-return]


@dataclass(frozen=True)
class StackResult:
    """Outcome of applying a stack to one rule: the rule, or why it does not run there."""

    rule: SigmaRule | None
    reason: str | None = None


def apply_stack(pipeline: ProcessingPipeline | None, rule: SigmaRule) -> StackResult:
    """Apply a (fresh) pipeline to a freshly parsed rule, in place.

    RuleFailureTransformation / DetectionItemFailureTransformation raise a SigmaError: the
    pipeline declares the rule unsupported for its log format, so it does not run under it.
    """
    if pipeline is None:
        return StackResult(rule)
    try:
        pipeline.apply(rule)
    except SigmaError as exc:
        return StackResult(None, f"not supported by this pipeline stack: {exc}")
    return StackResult(rule)
