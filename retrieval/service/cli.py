"""``permindex serve`` and ``permindex keys``: registered on the main CLI by one line in
``permindex/cli.py``, which passes its configuration loader (retrieval never imports
``permindex``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from indexer.operations.prune_preview import ConnectorFor
from indexer.principals import OrgPolicy
from indexer.settings import EmbeddingSettings, IndexSettings
from indexer.status import QueueView
from retrieval.service.keys import Capability, KeysFileError, create_key, read_keys_file, revoke_key
from retrieval.service.settings import ServiceSettings
from retrieval.settings import RetrievalSettings

EXIT_BAD_CONFIG = 2

T = TypeVar("T")


class DeploymentConfig(Protocol):
    """The parts of ``permindex.config.PermindexConfig`` the service reads. ``retrieval`` and
    ``service`` sections are optional there; missing ones mean defaults."""

    @property
    def tenant(self) -> str: ...

    @property
    def index(self) -> IndexSettings: ...

    @property
    def embedding(self) -> EmbeddingSettings: ...

    @property
    def org_policy(self) -> OrgPolicy: ...


def _section(config: object, name: str, kind: type[T]) -> T:
    value = getattr(config, name, None)
    return value if isinstance(value, kind) else kind()


def service_settings(config: DeploymentConfig) -> ServiceSettings:
    return _section(config, "service", ServiceSettings)


def retrieval_settings(config: DeploymentConfig) -> RetrievalSettings:
    settings = _section(config, "retrieval", RetrievalSettings)
    if "org" not in settings.model_fields_set:
        # One tenant setting for the deployment: the one the connectors intersect ACLs with.
        settings = settings.model_copy(update={"org": config.org_policy})
    return settings


def register(
    app: typer.Typer,
    load_config: Callable[[], DeploymentConfig],
    queue_view: Callable[[], QueueView | None] | None = None,
    connectors: Callable[[], ConnectorFor] | None = None,
) -> None:
    """``queue_view`` gives the broker's view for ``/v1/admin/status`` and ``connectors`` the
    configured sources' connectors for the prune preview: the composition root knows both
    (retrieval imports neither schedules nor connectors)."""
    err = Console(stderr=True)

    def fail(message: str) -> typer.Exit:
        err.print(f"[bold red]error:[/] {message}", highlight=False)
        return typer.Exit(EXIT_BAD_CONFIG)

    def keys_file_of(explicit: Path | None) -> Path:
        return explicit or service_settings(load_config()).keys_file

    @app.command("serve")
    def serve(
        host: str | None = typer.Option(None, help="Listen address (default from config)."),
        port: int | None = typer.Option(None, help="Listen port (default from config)."),
        keys_file: Path | None = typer.Option(None, help="API keys file (default from config)."),
    ) -> None:
        """Run the HTTP search service (POST /v1/search, GET /v1/documents/{id}, /metrics)."""
        from retrieval.service.server import AuditFileError, NoApiKeysError, open_service, run

        config = load_config()
        overrides = {
            name: value
            for name, value in (("host", host), ("port", port), ("keys_file", keys_file))
            if value is not None
        }
        settings = service_settings(config).model_copy(update=overrides)
        try:
            opened = open_service(
                index=config.index,
                embedding=config.embedding,
                retrieval=retrieval_settings(config),
                service=settings,
                source_ids=[source.id for source in getattr(config, "sources", [])],
                queue=queue_view() if queue_view is not None else None,
                connector_for=connectors() if connectors is not None else None,
            )
        except (NoApiKeysError, KeysFileError, AuditFileError) as exc:
            raise fail(str(exc)) from None
        err.print(f"permindex serving on http://{settings.host}:{settings.port} (docs at /docs)")
        if opened.audit_file is not None:
            err.print(f"audit records go to {opened.audit_file}", highlight=False)
        run(opened, settings)

    keys = typer.Typer(help="API keys of the services that call `permindex serve`.")
    app.add_typer(keys, name="keys")

    @keys.command("create")
    def create(
        name: str = typer.Argument(..., help="The calling service's name (shown in audit logs)."),
        capability: list[Capability] = typer.Option(
            [Capability.SEARCH.value],
            "--capability",
            help="search, assert_groups or admin; repeat for several.",
        ),
        keys_file: Path | None = typer.Option(None, help="API keys file (default from config)."),
    ) -> None:
        """Create a key: the secret is printed once and only its hash is stored."""
        path = keys_file_of(keys_file)
        try:
            record, secret = create_key(path, name, set(capability))
        except (ValueError, KeysFileError) as exc:
            raise fail(str(exc)) from None
        caps = ", ".join(sorted(c.value for c in record.capabilities))
        err.print(f"created key {record.key_id} for {name!r} ({caps}) in {path}")
        err.print("store it now: it is not shown again")
        typer.echo(secret)

    @keys.command("list")
    def list_keys(
        keys_file: Path | None = typer.Option(None, help="API keys file (default from config)."),
    ) -> None:
        """Keys (names, ids, capabilities; never secrets)."""
        path = keys_file_of(keys_file)
        try:
            stored = read_keys_file(path).keys
        except KeysFileError as exc:
            raise fail(str(exc)) from None
        table = Table(title=f"API keys in {path}")
        for column in ("name", "key id", "capabilities", "created", "state"):
            table.add_column(column)
        for record in stored:
            table.add_row(
                record.name,
                record.key_id,
                ", ".join(sorted(c.value for c in record.capabilities)),
                f"{record.created_at:%Y-%m-%d %H:%M}",
                "revoked" if record.disabled else "active",
            )
        Console().print(table)

    @keys.command("revoke")
    def revoke(
        name_or_id: str = typer.Argument(..., help="Key name or key id."),
        keys_file: Path | None = typer.Option(None, help="API keys file (default from config)."),
    ) -> None:
        """Revoke keys by name or id; a running service notices the file change at once."""
        path = keys_file_of(keys_file)
        try:
            count = revoke_key(path, name_or_id)
        except KeysFileError as exc:
            raise fail(str(exc)) from None
        if count == 0:
            raise fail(f"no active key named or with id {name_or_id!r} in {path}")
        err.print(f"revoked {count} key(s)")
