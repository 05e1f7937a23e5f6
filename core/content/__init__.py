"""One safe, located loader and validator style for every authored file.

Rules metadata, playbooks, drill scenarios and awareness topics all go through ``load_yaml``
(safe YAML with limits and a line map) and ``validate_model`` (pydantic errors as located
``Issue`` values). Nothing here raises for bad content: it returns issues.
"""

from core.content.issues import (
    DataPath,
    Issue,
    Severity,
    field_name,
    has_errors,
    parse_field_name,
)
from core.content.safe_yaml import Document, YamlContent, load_yaml
from core.content.validate import Validator, pydantic_issues, resolve_location, validate_model

__all__ = [
    "DataPath",
    "Document",
    "Issue",
    "Severity",
    "Validator",
    "YamlContent",
    "field_name",
    "has_errors",
    "load_yaml",
    "parse_field_name",
    "pydantic_issues",
    "resolve_location",
    "validate_model",
]
