"""The discovery-document adapter checks traffic as the shipped Drive and Directory documents
state it: a test cannot pass on a response or a request the real API would not produce."""

from __future__ import annotations

import pytest

from tests.emulators.discovery import DiscoveryDocument
from tests.emulators.spec import SpecRequest, SpecViolation

DRIVE = DiscoveryDocument("drive.v3.json")
DIRECTORY = DiscoveryDocument("admin.directory_v1.json")


def test_routes_are_the_documents_method_ids_literal_paths_first() -> None:
    assert DRIVE.route_of("get", "/drive/v3/changes/startPageToken") == (
        "drive.changes.getStartPageToken"
    )
    assert DRIVE.route_of("get", "/drive/v3/files/abc/permissions") == "drive.permissions.list"
    assert DRIVE.route_of("post", "/drive/v3/files/abc/permissions") == "drive.permissions.create"
    assert DRIVE.route_of("get", "/drive/v2/files") is None
    assert DIRECTORY.route_of("get", "/admin/directory/v1/groups/g@x.com/members") == (
        "directory.members.list"
    )


def test_a_response_field_of_the_wrong_type_is_a_violation() -> None:
    operation = DRIVE.operation("get", "/files/abc/permissions")
    DRIVE.validate_body(operation, 200, {"permissions": [{"id": "p1", "type": "user"}]})
    with pytest.raises(SpecViolation, match=r"allowFileDiscovery"):
        DRIVE.validate_body(
            operation, 200, {"permissions": [{"id": "p1", "allowFileDiscovery": "false"}]}
        )


def test_an_error_body_must_be_googles_json_error() -> None:
    operation = DRIVE.operation("get", "/files/abc")
    error = {
        "error": {"code": 404, "message": "File not found", "errors": [{"reason": "notFound"}]}
    }
    DRIVE.validate_body(operation, 404, error)
    with pytest.raises(SpecViolation):
        DRIVE.validate_body(operation, 404, {"message": "not found"})


def test_undocumented_and_mistyped_parameters_are_violations() -> None:
    operation = DRIVE.operation("get", "/changes")
    given = {"pageToken": "12", "pageSize": "100", "alt": "json", "supportsAllDrives": "true"}
    DRIVE.validate_request(operation, SpecRequest("get", "/changes", {"query": given}))
    with pytest.raises(SpecViolation, match="not documented"):
        DRIVE.validate_request(
            operation, SpecRequest("get", "/changes", {"query": {**given, "since": "yesterday"}})
        )
    with pytest.raises(SpecViolation, match="pageSize"):
        DRIVE.validate_request(
            operation, SpecRequest("get", "/changes", {"query": {**given, "pageSize": "many"}})
        )
    with pytest.raises(SpecViolation, match="pageToken"):
        DRIVE.validate_request(operation, SpecRequest("get", "/changes", {"query": {}}))
