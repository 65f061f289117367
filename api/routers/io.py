"""Bulk import (multipart upload) and export of the registry layers.

``POST /api/v1/{layer}/import`` queues the all-or-nothing import of a CSV, XLSX, GeoJSON,
GeoPackage or zipped Shapefile as a background job (``geo.io.jobs``) and answers 202 with the job;
``GET /api/v1/imports/{job_id}`` reports its progress and its report or, for a rejected file,
the per-row problems;
``GET /api/v1/{layer}/export?format=`` returns the layer with the list filters applied.
Both call the same ``geo.io`` functions as ``timpora import`` and ``timpora export``.
Routes are declared per layer with literal paths so they never shadow ``/{layer}/{id}``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import PrincipalDep, require
from api.deps import SessionDep, SettingsDep
from api.errors import error_body, status_for
from api.responses import JSON
from api.routing import Writer, client_address, download
from geo.access import read_permission
from geo.errors import TooLargeError
from geo.io.importer import check_sharing
from geo.io.jobs import ImportJob, ImportJobs
from geo.io.layers import LAYERS
from geo.io.readers import check_archive, detect_format
from geo.io.service import export_request
from geo.registry import get_layer
from geo.sharing import parse_sharing

router = APIRouter(prefix="/api/v1", tags=["import/export"])

UPLOAD_CHUNK = 1 << 20


def _job_view(job: ImportJob, request: Request) -> dict[str, Any]:
    """The job resource: status, progress, the report, or the error as the synchronous import
    would have answered it (status code and body, the per-row report in ``errors``)."""
    view = job.as_dict()
    view["error"] = (
        None if job.error is None else {"status": status_for(job.error), **error_body(job.error)}
    )
    view["links"] = {"self": str(request.url_for("import_job", job_id=job.id).path)}
    return view


async def _store_upload(file: UploadFile, path: Path, max_bytes: int) -> None:
    """Write the upload to ``path`` off the event loop, refusing it past ``max_bytes``."""
    size = 0
    with path.open("wb") as fh:
        while chunk := await file.read(UPLOAD_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise TooLargeError(
                    f"file: larger than TIMPORA_IMPORT_MAX_UPLOAD_BYTES ({max_bytes:,} bytes)",
                    field="file",
                    value=file.filename,
                )
            await run_in_threadpool(fh.write, chunk)


def _add_routes(layer: str) -> None:
    @router.post(
        f"/{layer}/import",
        summary=f"Import {layer} from a file (all or nothing), as a background job",
        name=f"import_{layer}",
        status_code=202,
        responses={
            202: {"description": "accepted: the job resource (poll its `links.self`)"},
            413: {"description": "the file, its archive content or its rows exceed a cap"},
            429: {"description": "too many import jobs waiting or running"},
        },
    )
    async def import_layer(
        request: Request,
        settings: SettingsDep,
        session: SessionDep,
        principal: Writer,
        file: UploadFile,
        dry_run: Annotated[bool, Query(description="Validate only; write nothing.")] = False,
        sharing: Annotated[
            str | None,
            Query(
                description="Whom the new incidents or sightings are shared with: timpora "
                "(default), agencies (with shared_with) or agency (the importer's only)."
            ),
        ] = None,
        shared_with: Annotated[
            list[str] | None,
            Query(
                description="Agency short names for sharing=agencies (repeat or comma-separate)."
            ),
        ] = None,
    ) -> JSON:
        # The import runs in a worker process (the same geo.io.import_file as timpora import):
        # this handler only stores the upload, checks what it can check at once (the type, the
        # caps, the sharing), and queues the job.
        jobs: ImportJobs = request.app.state.imports
        name = Path(file.filename or "upload").name
        detect_format(Path(name))  # refuse an unknown type before storing the upload
        checked = await run_in_threadpool(
            lambda: parse_sharing(
                session=session,
                sharing=sharing,
                shared_with=shared_with,
                agency_id=principal.agency_id,
            )
        )
        shared = check_sharing(layer, checked)
        workdir = jobs.workdir()
        try:
            path = workdir / f"upload{Path(name).suffix.lower()}"
            await _store_upload(file, path, settings.imports.import_max_upload_bytes)
            await run_in_threadpool(check_archive, path, jobs.limits.max_uncompressed_bytes)
            job = jobs.submit(
                layer=layer,
                path=path,
                source=name,
                dry_run=dry_run,
                principal=principal,
                client=client_address(request),
                sharing=checked,
                shows_sharing=shared,
            )
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        view = _job_view(job, request)
        return JSON(view, status_code=202, headers={"Location": view["links"]["self"]})

    # Exports of persons (foreigners, sightings) only for roles with personal data: the route's
    # permission depends on the layer, so it is a route dependency (docs/privacy.md).
    @router.get(
        f"/{layer}/export",
        summary=f"Export {layer} (GeoJSON, CSV, GeoPackage, XLSX)",
        name=f"export_{layer}",
        response_class=Response,
        dependencies=[Depends(require(read_permission(get_layer(layer).record)))],
    )
    def export(
        request: Request,
        session: SessionDep,
        principal: PrincipalDep,
        format: Annotated[str, Query(description="geojson, csv, gpkg or xlsx")] = "geojson",
        bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat")] = None,
        start: Annotated[str | None, Query(description="ISO 8601; no offset = WIB")] = None,
        end: Annotated[str | None, Query(description="ISO 8601; exclusive")] = None,
        kind: Annotated[list[str] | None, Query()] = None,
        status: Annotated[list[str] | None, Query()] = None,
        nationality: Annotated[list[str] | None, Query()] = None,
        permit_type: Annotated[list[str] | None, Query()] = None,
        kecamatan: Annotated[list[str] | None, Query()] = None,
    ) -> Response:
        result = export_request(
            session=session,
            layer=layer,
            fmt=format,
            principal=principal,
            client=client_address(request),
            raw_filters={
                "bbox": bbox,
                "start": start,
                "end": end,
                "kind": kind,
                "status": status,
                "nationality": nationality,
                "permit_type": permit_type,
                "kecamatan": kecamatan,
            },
        )
        return download(
            result.content,
            media_type=result.media_type,
            file_name=result.file_name,
            headers={"X-Record-Count": str(result.count)},
        )


@router.get(
    "/imports/{job_id}",
    summary="An import job: status, progress, and the report or the per-row problems",
    name="import_job",
)
def import_job(request: Request, principal: Writer, job_id: str) -> dict[str, Any]:
    jobs: ImportJobs = request.app.state.imports
    return _job_view(jobs.get(job_id, principal), request)


for _layer in LAYERS:
    _add_routes(_layer)
