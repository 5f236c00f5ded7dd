"""Google API discovery documents as API documents the emulator base can check traffic against.

google-api-python-client ships the discovery documents it builds its clients from
(``googleapiclient/discovery_cache/documents/``); the emulators are checked against exactly
those. A discovery document is turned, in memory, into the OpenAPI 3.0 form ``spec.py`` reads:
each method becomes an operation under its ``flatPath`` (with ``operationId`` = the method id),
its parameters and the document's global parameters become parameters (``repeated`` as arrays),
``request`` and ``response`` become JSON bodies, and ``$ref: "File"`` becomes a reference into
``components/schemas``. Three responses are added that discovery documents do not describe:
``media`` (a download or export: its bytes, unchecked), the empty success of a method without a
response, and ``default``, an error in Google's JSON error format
(https://cloud.google.com/apis/design/errors#http_mapping).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import googleapiclient
from referencing import Registry
from referencing.jsonschema import DRAFT4

from tests.emulators.spec import OpenAPIDocument, SpecLags

DISCOVERY_DIR = Path(os.path.dirname(googleapiclient.__file__)) / "discovery_cache" / "documents"
MEDIA = "media"

# Keys of a discovery schema with no JSON Schema meaning (or a different one: discovery's
# "required" is a boolean on the property, its "minimum" a string).
_DROPPED = {
    "id",
    "description",
    "annotations",
    "enumDescriptions",
    "readOnly",
    "required",
    "default",
    "deprecated",
    "minimum",
    "maximum",
    "location",
    "repeated",
    "enumDeprecated",
}

GOOGLE_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "status": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "reason": {"type": "string"},
                            "message": {"type": "string"},
                            "domain": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}


class DiscoveryDocument(OpenAPIDocument):
    """A discovery document (``drive.v3.json``), checked like an OpenAPI 3.0 document."""

    def __init__(self, filename: str, *, lags: SpecLags | None = None) -> None:
        self.path = DISCOVERY_DIR / filename
        self.discovery: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        self.document = to_openapi(self.discovery)
        self.lags = lags or SpecLags()
        self.version = "3.0"
        self._uri = self.path.resolve().as_uri()
        self._registry: Registry[Any] = Registry().with_resource(
            self._uri, DRAFT4.create_resource(self.document)
        )
        self._validators = {}

    def route_of(self, method: str, path: str) -> str | None:
        """The method id (``drive.files.list``) a request path and method stand for."""
        base = self.base_path
        if not path.startswith(base):
            return None
        template = self.template_of(path[len(base) :])
        if template is None:
            return None
        operation = self.document["paths"][template].get(method.lower())
        return None if operation is None else str(operation["operationId"])


def to_openapi(discovery: Mapping[str, Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    global_params = discovery.get("parameters", {})
    for method in _methods(discovery.get("resources", {})):
        template = "/" + str(method.get("flatPath") or method["path"])
        params = [_parameter(n, p) for n, p in global_params.items()]
        params += [_parameter(n, p) for n, p in method.get("parameters", {}).items()]
        operation: dict[str, Any] = {
            "operationId": method["id"],
            "parameters": params,
            "responses": {"default": _json_response(GOOGLE_ERROR)},
        }
        if "request" in method:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(method["request"])}},
            }
        if "response" in method:
            operation["responses"]["200"] = _json_response(_schema(method["response"]))
        else:
            operation["responses"]["200"] = {"description": "no body"}
            operation["responses"]["204"] = {"description": "no body"}
        if method.get("supportsMediaDownload"):
            operation["responses"][MEDIA] = {"description": "the file's bytes"}
        paths.setdefault(template, {})[str(method["httpMethod"]).lower()] = operation
    root = str(discovery["rootUrl"]) + str(discovery.get("servicePath", ""))
    return {
        "openapi": "3.0.3",
        "info": {"title": discovery.get("title", ""), "version": discovery.get("version", "")},
        "servers": [{"url": root}],
        "paths": paths,
        "components": {"schemas": {n: _schema(s) for n, s in discovery.get("schemas", {}).items()}},
    }


def _methods(resources: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for resource in resources.values():
        yield from resource.get("methods", {}).values()
        yield from _methods(resource.get("resources", {}))


def _json_response(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"description": "", "content": {"application/json": {"schema": dict(schema)}}}


def _parameter(name: str, param: Mapping[str, Any]) -> dict[str, Any]:
    schema = _schema(param)
    if param.get("repeated"):
        schema = {"type": "array", "items": schema}
    location = str(param.get("location", "query"))
    return {
        "name": name,
        "in": location,
        "required": bool(param.get("required")) or location == "path",
        "schema": schema,
    }


def _schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_schema(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:
        return {"$ref": f"#/components/schemas/{node['$ref']}"}
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "type" and value == "any":
            continue
        if key == "properties":
            converted[key] = {name: _schema(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties"):
            converted[key] = _schema(value)
        else:
            converted[key] = value
    return converted
