"""Checking emulator traffic against the official API documents in ``../shared/specs/``.

Schemas are checked with jsonschema's Draft 4 validator for Swagger 2.0 documents (their Schema
Object is a Draft 4 subset) and with openapi-schema-validator's OAS 3.0/3.1 validators for
OpenAPI 3 documents (``nullable``, OAS formats). ``$ref`` resolves inside the whole document, so a
schema is checked exactly as the document states it, never a hand-copied version of it.

Parameters are checked by hand: required ones present, values of the declared type, enum and
pattern; parameters the document does not declare are reported, unless the API's emulator
declares them as known lags of the document (``SpecLags``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from openapi_schema_validator import OAS30Validator, OAS31Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4, DRAFT202012

SPECS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "specs"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class SpecViolation(AssertionError):
    """Traffic that breaks the API document; each problem names the field (a JSON path)."""

    def __init__(self, operation: str, part: str, problems: Sequence[str]) -> None:
        self.operation = operation
        self.part = part
        self.problems = list(problems)
        super().__init__(f"{operation}: {part} breaks the spec: " + "; ".join(self.problems))


@dataclass(frozen=True)
class SpecRequest:
    """A request as the document sees it: parameters already sorted by location.

    ``params`` maps a location (``query``, ``header``, ``path``, ``formData``, ``cookie``) to
    names and raw values. Header names are lower-case.
    """

    method: str
    path: str
    params: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    json_body: Any = None
    has_json_body: bool = False


@dataclass(frozen=True)
class SpecLags:
    """What a client sends today that an older document lacks, per operation id.

    Each entry is a JSON schema for the parameter's value. Emulators list them with a comment
    citing why, so the lag is visible and reviewed rather than hidden by a lenient validator.
    """

    params: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Parameter:
    definition: Mapping[str, Any]
    # Where the parameter sits in the document, so its schema is checked with $ref resolution.
    pointer: str

    @property
    def location(self) -> str:
        return str(self.definition["in"])

    @property
    def name(self) -> str:
        return str(self.definition["name"])


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pointer: str
    definition: Mapping[str, Any]
    parameters: tuple[Parameter, ...]

    @property
    def name(self) -> str:
        return str(self.definition.get("operationId") or f"{self.method.upper()} {self.template}")


class OpenAPIDocument:
    """One API document (Swagger 2.0 or OpenAPI 3.0/3.1), loaded in place from ``SPECS_DIR``."""

    def __init__(self, path: Path, *, lags: SpecLags | None = None) -> None:
        self.path = path
        self.document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.lags = lags or SpecLags()
        if self.document.get("swagger") == "2.0":
            self.version = "2.0"
        elif str(self.document.get("openapi", "")).startswith("3.0"):
            self.version = "3.0"
        elif str(self.document.get("openapi", "")).startswith("3.1"):
            self.version = "3.1"
        else:
            raise ValueError(f"{path}: neither Swagger 2.0 nor OpenAPI 3.0/3.1")
        self._uri = path.resolve().as_uri()
        specification = DRAFT202012 if self.version == "3.1" else DRAFT4
        resource = specification.create_resource(self.document)
        self._registry: Registry[Any] = Registry().with_resource(self._uri, resource)
        self._validators: dict[str, Validator] = {}

    @classmethod
    def named(cls, filename: str, *, lags: SpecLags | None = None) -> OpenAPIDocument:
        return cls(SPECS_DIR / filename, lags=lags)

    @cached_property
    def base_path(self) -> str:
        """The prefix the document's paths sit under (``basePath``, or the first server's path)."""
        if self.version == "2.0":
            base = str(self.document.get("basePath", ""))
        else:
            servers = self.document.get("servers") or [{"url": ""}]
            base = urlsplit(str(servers[0].get("url", ""))).path
        return base.rstrip("/")

    @cached_property
    def _templates(self) -> list[tuple[re.Pattern[str], str]]:
        compiled = []
        for template in self.document.get("paths", {}):
            pattern = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
            compiled.append((re.compile(pattern + r"\Z"), template))
        # Literal paths win over templated ones (/pages/trashed before /pages/{id}).
        compiled.sort(key=lambda item: item[1].count("{"))
        return compiled

    def template_of(self, path: str) -> str | None:
        for pattern, template in self._templates:
            if pattern.match(path):
                return template
        return None

    def path_params(self, template: str, path: str) -> dict[str, str]:
        """The values of ``template``'s ``{name}`` segments in ``path``."""
        names = re.findall(r"\{([^}]+)\}", template)
        for pattern, candidate in self._templates:
            if candidate == template and (match := pattern.match(path)):
                return dict(zip(names, match.groups(), strict=True))
        return {}

    def methods_of(self, template: str) -> list[str]:
        item = self.document["paths"][template]
        return [method for method in HTTP_METHODS if method in item]

    def operation(self, method: str, path: str) -> Operation:
        """The documented operation for ``method`` and ``path`` (without the base path)."""
        template = self.template_of(path)
        if template is None:
            raise SpecViolation(f"{method.upper()} {path}", "request", ["path not documented"])
        item = self.document["paths"][template]
        method = method.lower()
        if method not in item:
            documented = ", ".join(m.upper() for m in self.methods_of(template))
            raise SpecViolation(
                f"{method.upper()} {template}",
                "request",
                [f"method not documented (documented: {documented})"],
            )
        pointer = f"/paths/{_escape(template)}/{method}"
        merged: dict[tuple[str, str], Parameter] = {}
        for base, raws in (
            (f"/paths/{_escape(template)}/parameters", item.get("parameters", [])),
            (f"{pointer}/parameters", item[method].get("parameters", [])),
        ):
            for index, raw in enumerate(raws):
                at = str(raw["$ref"])[1:] if "$ref" in raw else f"{base}/{index}"
                param = Parameter(self._deref(raw), at)
                merged[(param.location, param.name)] = param
        return Operation(
            method=method,
            template=template,
            pointer=pointer,
            definition=item[method],
            parameters=tuple(merged.values()),
        )

    def validate_request(self, operation: Operation, request: SpecRequest) -> None:
        problems: list[str] = []
        lags = self.lags.params.get(operation.name, {})
        declared: dict[str, set[str]] = {}
        given = {location: dict(values) for location, values in request.params.items()}
        if "path" not in given:
            given["path"] = self.path_params(operation.template, request.path)
        for param in operation.parameters:
            location, name = param.location, param.name
            if location == "body":
                problems += self._check_body(param, request)
                continue
            declared.setdefault(location, set()).add(name)
            key = name.lower() if location == "header" else name
            value = given.get(location, {}).get(key)
            if value is None:
                if param.definition.get("required") or location == "path":
                    problems.append(f"{location} parameter {name!r} is required")
                continue
            problems += self._check_param(param, value)
        if self.version != "2.0":
            problems += self._check_request_body(operation, request)
        for location, values in given.items():
            if location in ("header", "cookie"):
                # Clients add their own headers (User-Agent, Accept-Encoding): not the API's.
                continue
            for name, value in values.items():
                if name in declared.get(location, set()):
                    continue
                if name in lags:
                    problems += _check_lag(name, lags[name], value)
                    continue
                problems.append(f"{location} parameter {name!r} is not documented")
        if problems:
            raise SpecViolation(operation.name, "request", problems)

    def validate_response(
        self,
        operation: Operation,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        response_key: str | None = None,
    ) -> None:
        """Check status, content type, required headers and the JSON body against the document.

        ``response_key`` picks the documented response instead of the status, for APIs whose
        document files a response under another key than the status it travels with.
        """
        responses = operation.definition.get("responses", {})
        candidates = (response_key,) if response_key else (str(status), f"{status // 100}XX")
        key = next((k for k in (*candidates, "default") if k in responses), None)
        if key is None:
            raise SpecViolation(operation.name, "response", [f"status {status} not documented"])
        response = self._deref(responses[key])
        pointer = f"{operation.pointer}/responses/{_escape(key)}"
        lowered = {name.lower(): value for name, value in headers.items()}
        media_type = lowered.get("content-type", "").split(";")[0].strip().lower()
        problems: list[str] = []
        schema_pointer: str | None = None
        if self.version == "2.0":
            produces = operation.definition.get("produces") or self.document.get("produces", [])
            if body and produces and media_type not in produces:
                problems.append(f"content-type {media_type!r} not in {produces}")
            if "schema" in response:
                schema_pointer = f"{pointer}/schema"
        else:
            content = response.get("content") or {}
            for name, header in (response.get("headers") or {}).items():
                if self._deref(header).get("required") and name.lower() not in lowered:
                    problems.append(f"header {name!r} is required")
            if content:
                if media_type not in content:
                    problems.append(f"content-type {media_type!r} not in {sorted(content)}")
                elif "schema" in content[media_type]:
                    schema_pointer = f"{pointer}/content/{_escape(media_type)}/schema"
        if schema_pointer is not None and not problems:
            try:
                instance = json.loads(body)
            except ValueError as exc:
                problems.append(f"body is not JSON ({exc})")
            else:
                problems += _errors(self._validator(schema_pointer), instance, "$")
        if problems:
            raise SpecViolation(operation.name, f"response {status}", problems)

    def validate_body(
        self, operation: Operation, status: int, body: Any, *, response_key: str | None = None
    ) -> None:
        """``validate_response`` of a JSON value, as a JSON response."""
        headers = {"content-type": "application/json"}
        encoded = json.dumps(body).encode()
        self.validate_response(operation, status, headers, encoded, response_key=response_key)

    def _check_param(self, param: Parameter, raw: str) -> list[str]:
        where = f"{param.location} parameter {param.name!r}"
        if "schema" in param.definition:
            schema = self._deref(param.definition["schema"])
            validator = self._validator(f"{param.pointer}/schema")
        else:
            schema = _swagger_param_schema(param.definition)
            validator = Draft4Validator(schema)
        schema_type = schema.get("type")
        try:
            if schema_type == "array":
                # Comma-separated (OAS3 style form without explode, Swagger collectionFormat
                # csv): the defaults. Exploded repeats reach here as their last value only.
                items = self._deref(schema.get("items") or {})
                value: Any = [_coerce(part, items.get("type")) for part in raw.split(",")]
            else:
                value = _coerce(raw, schema_type)
        except (ValueError, KeyError):
            return [f"{where}: {raw!r} is not {schema_type}"]
        return _errors(validator, value, where)

    def _check_body(self, param: Parameter, request: SpecRequest) -> list[str]:
        if not request.has_json_body:
            return ["request body is required"] if param.definition.get("required") else []
        return _errors(self._validator(f"{param.pointer}/schema"), request.json_body, "body")

    def _check_request_body(self, operation: Operation, request: SpecRequest) -> list[str]:
        raw = operation.definition.get("requestBody")
        if raw is None:
            return []
        body = self._deref(raw)
        if not request.has_json_body:
            return ["request body is required"] if body.get("required") else []
        if "application/json" not in (body.get("content") or {}):
            return []
        at = str(raw["$ref"])[1:] if "$ref" in raw else f"{operation.pointer}/requestBody"
        pointer = f"{at}/content/application~1json/schema"
        return _errors(self._validator(pointer), request.json_body, "body")

    def _validator(self, pointer: str) -> Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            ref = {"$ref": f"{self._uri}#{pointer}"}
            cls: Any = {"2.0": Draft4Validator, "3.0": OAS30Validator, "3.1": OAS31Validator}[
                self.version
            ]
            validator = self._validators[pointer] = cls(ref, registry=self._registry)
        return validator

    def _deref(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while "$ref" in node:
            ref = str(node["$ref"])
            if not ref.startswith("#/") or seen > 20:
                raise ValueError(f"{self.path}: unsupported $ref {ref!r}")
            target: Any = self.document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node, seen = target, seen + 1
        return node


# Form and query values are text; Slack (and most APIs) also read 1/0 as booleans, which is what
# slack-sdk sends (convert_bool_to_0_or_1).
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def _coerce(raw: str, schema_type: Any) -> Any:
    if schema_type == "integer":
        return int(raw)
    if schema_type == "number":
        return float(raw)
    if schema_type == "boolean":
        return _BOOLEANS[raw.lower()]
    return raw


def _swagger_param_schema(param: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("type", "items", "enum", "pattern", "minimum", "maximum", "maxLength", "minLength")
    return {key: param[key] for key in keys if key in param}


def _check_lag(name: str, schema: Mapping[str, Any], raw: str) -> list[str]:
    where = f"parameter {name!r} (not in the document)"
    value: Any = raw
    if schema.get("type") == "boolean":
        value = _BOOLEANS.get(raw.lower(), raw)
    elif schema.get("type") == "integer" and re.fullmatch(r"-?\d+", raw):
        value = int(raw)
    return _errors(Draft4Validator(dict(schema)), value, where)


def _errors(validator: Validator, instance: Any, where: str) -> list[str]:
    found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [_describe(error, where) for error in found]


def _describe(error: ValidationError, where: str) -> str:
    path = where + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
    )
    return f"{path}: {error.message}"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")
