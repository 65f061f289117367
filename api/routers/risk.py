"""``/api/v1/workplaces/risk``: workplaces ranked for joint inspections, and the factors' weights.

Handlers call ``geo.risk``; the SQL lives there (docs/risk.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.auth import require
from api.deps import SessionDep
from api.responses import JSON
from api.routing import client_address
from geo import access, risk
from geo.users import Principal

router = APIRouter(prefix="/api/v1", tags=["risk"])

Reader = Annotated[Principal, Depends(require(access.READ))]
WeightEditor = Annotated[Principal, Depends(require(access.EDIT_RULES))]


class WeightIn(BaseModel):
    weight: float = Field(ge=0, le=risk.MAX_WEIGHT, allow_inf_nan=False)


@router.get(
    "/workplaces/risk",
    summary="Workplaces ranked for inspection: score, factors and (personal roles) the persons",
)
def get_risk(
    request: Request,
    session: SessionDep,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=risk.MAX_LIMIT)] = 20,
    radius_m: Annotated[float, Query(ge=risk.MIN_RADIUS_M, le=risk.MAX_RADIUS_M)] = 300.0,
    window_days: Annotated[int, Query(ge=1, le=risk.MAX_WINDOW_DAYS)] = 90,
    expiring_days: Annotated[int, Query(ge=0, le=risk.MAX_EXPIRING_DAYS)] = 30,
    as_of: Annotated[dt.date | None, Query(description="reference date (default today)")] = None,
) -> JSON:
    query = risk.parse_query(
        limit=limit,
        radius_m=radius_m,
        window_days=window_days,
        expiring_days=expiring_days,
        as_of=as_of,
    )
    return JSON(
        risk.rank(session=session, query=query, principal=principal, client=client_address(request))
    )


@router.get("/workplaces/risk/weights", summary="The risk factors' weights and defaults")
def get_weights(session: SessionDep, principal: Reader) -> JSON:
    return JSON({"weights": risk.list_weights(session=session)})


@router.put("/workplaces/risk/weights/{factor}", summary="Change one risk factor's weight")
def put_weight(factor: str, body: WeightIn, session: SessionDep, principal: WeightEditor) -> JSON:
    return JSON(
        risk.set_weight(session=session, principal=principal, factor=factor, weight=body.weight)
    )
