"""Bulk import (multipart upload) and export of the registry layers.

``POST /api/v1/{layer}/import`` loads a CSV, XLSX, GeoJSON, GeoPackage or zipped Shapefile all
or nothing (a rejected file answers 422 with the per-row report in ``errors``);
``GET /api/v1/{layer}/export?format=`` returns the layer with the list filters applied.
Both call the same ``geo.io`` functions as ``timpora import`` and ``timpora export``.
Routes are declared per layer with literal paths so they never shadow ``/{layer}/{id}``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep
from api.routing import Reader, Writer, client_address, download
from geo.io import import_file
from geo.io.layers import LAYERS
from geo.io.readers import detect_format
from geo.io.service import export_request

router = APIRouter(prefix="/api/v1", tags=["import/export"])

UPLOAD_CHUNK = 1 << 20


def _add_routes(layer: str) -> None:
    @router.post(
        f"/{layer}/import",
        summary=f"Import {layer} from a file (all or nothing)",
        name=f"import_{layer}",
        responses={422: {"description": "rejected: per-row report in `errors`"}},
    )
    async def import_layer(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        principal: Writer,
        file: UploadFile,
        dry_run: Annotated[bool, Query(description="Validate only; write nothing.")] = False,
    ) -> dict[str, Any]:
        name = Path(file.filename or "upload").name
        detect_format(Path(name))  # refuse an unknown type before storing the upload
        with tempfile.TemporaryDirectory(prefix="timpora-import-") as tmp:
            path = Path(tmp) / f"upload{Path(name).suffix.lower()}"
            with path.open("wb") as fh:
                while chunk := await file.read(UPLOAD_CHUNK):
                    fh.write(chunk)
            report = import_file(
                session=session,
                layer=layer,
                path=path,
                area=settings.area,
                principal=principal,
                dry_run=dry_run,
                client=client_address(request),
                source_name=name,
            )
        return report.as_dict()

    @router.get(
        f"/{layer}/export",
        summary=f"Export {layer} (GeoJSON, CSV, GeoPackage, XLSX)",
        name=f"export_{layer}",
        response_class=Response,
    )
    def export(
        request: Request,
        session: SessionDep,
        principal: Reader,
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


for _layer in LAYERS:
    _add_routes(_layer)
