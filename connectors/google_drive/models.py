"""Drive and Directory payloads as the connector reads them (the fields it asks for, no more)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

FOLDER = "application/vnd.google-apps.folder"
SHORTCUT = "application/vnd.google-apps.shortcut"


class _Payload(BaseModel):
    # Google adds fields over time; unknown ones are ignored, known ones are typed.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Owner(_Payload):
    email: str | None = Field(default=None, alias="emailAddress")


class ShortcutDetails(_Payload):
    target_id: str | None = Field(default=None, alias="targetId")
    target_mime_type: str | None = Field(default=None, alias="targetMimeType")
    target_resource_key: str | None = Field(default=None, alias="targetResourceKey")


class DriveFile(_Payload):
    id: str
    name: str = ""
    mime_type: str = Field(default="", alias="mimeType")
    parents: tuple[str, ...] = ()
    drive_id: str | None = Field(default=None, alias="driveId")
    trashed: bool = False
    modified_time: str | None = Field(default=None, alias="modifiedTime")
    created_time: str | None = Field(default=None, alias="createdTime")
    size: int | None = None
    md5: str | None = Field(default=None, alias="md5Checksum")
    owners: tuple[Owner, ...] = ()
    web_view_link: str | None = Field(default=None, alias="webViewLink")
    inherited_permissions_disabled: bool = Field(
        default=False, alias="inheritedPermissionsDisabled"
    )
    resource_key: str | None = Field(default=None, alias="resourceKey")
    shortcut: ShortcutDetails | None = Field(default=None, alias="shortcutDetails")

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER

    @property
    def is_shortcut(self) -> bool:
        return self.mime_type == SHORTCUT

    @property
    def owner(self) -> str | None:
        return self.owners[0].email if self.owners else None


class PermissionDetail(_Payload):
    # "member": the grant is the item's shared drive membership; "file": a grant on the item
    # or one of its folders.
    permission_type: str | None = Field(default=None, alias="permissionType")
    inherited: bool = False
    inherited_from: str | None = Field(default=None, alias="inheritedFrom")


class DrivePermission(_Payload):
    id: str | None = None
    type: str = ""
    role: str = ""
    email: str | None = Field(default=None, alias="emailAddress")
    domain: str | None = None
    # Google's default is true for domain and anyone grants; absent is read as link-only
    # (false), since guessing "discoverable" would widen access.
    allow_file_discovery: bool = Field(default=False, alias="allowFileDiscovery")
    deleted: bool = False
    expiration_time: str | None = Field(default=None, alias="expirationTime")
    details: tuple[PermissionDetail, ...] = Field(default=(), alias="permissionDetails")


class SharedDrive(_Payload):
    id: str
    name: str = ""


class DriveChange(_Payload):
    change_type: str = Field(default="file", alias="changeType")
    removed: bool = False
    file_id: str | None = Field(default=None, alias="fileId")
    drive_id: str | None = Field(default=None, alias="driveId")
    file: DriveFile | None = None


class ChangePage(_Payload):
    changes: tuple[DriveChange, ...] = ()
    next_page_token: str | None = Field(default=None, alias="nextPageToken")
    new_start_page_token: str | None = Field(default=None, alias="newStartPageToken")


class DirectoryGroup(_Payload):
    id: str = ""
    email: str


class DirectoryMember(_Payload):
    id: str | None = None
    email: str | None = None
    type: str = ""
    status: str | None = None


class DirectoryUser(_Payload):
    primary_email: str = Field(alias="primaryEmail")
    aliases: tuple[str, ...] = ()
    suspended: bool = False
    archived: bool = False
