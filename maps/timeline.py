"""Timeline: the kecamatan choropleth per week or month with a slider (no jQuery, no d3).

Classes are fixed over all periods so colours compare across the slider.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import folium
from branca.element import MacroElement
from folium.template import Template
from sqlalchemy.orm import Session

from geo import mapdata
from geo.mapdata import MapFilters
from geo.settings import Settings
from geo.times import WIB
from maps.basemap import add_background
from maps.common import (
    SUPPRESSED_COLOUR,
    ZERO_COLOUR,
    MapParams,
    classify,
    finish_view,
    is_suppressed,
    legend,
    new_map,
    shown_count,
)
from maps.escaping import FieldsTooltip
from maps.labels import t


class TimeSlider(MacroElement):
    """A slider control that restyles a GeoJson layer per period and shows the period total."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var data = {{ this.data|tojson }};
            var layer = {{ this.layer.get_name() }};
            var ctl = L.control({position: 'bottomleft'});
            ctl.onAdd = function () {
                // Built with the DOM, text as textContent: no value is parsed as HTML.
                var div = L.DomUtil.create('div', 'tpm-box tpm-timeline');
                L.DomUtil.create('b', '', div).textContent = data.title;
                div.appendChild(document.createTextNode(' '));
                L.DomUtil.create('span', 'tpm-period', div);
                L.DomUtil.create('br', '', div);
                var range = L.DomUtil.create('input', '', div);
                range.type = 'range';
                range.min = '0';
                range.max = String(data.periods.length - 1);
                range.value = String(data.opening);
                range.style.width = '260px';
                div.appendChild(document.createTextNode(' '));
                var play = L.DomUtil.create('button', '', div);
                play.type = 'button';
                play.textContent = data.play;
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            ctl.addTo({{ this._parent.get_name() }});
            var box = ctl.getContainer();
            var slider = box.querySelector('input'), label = box.querySelector('.tpm-period');
            var button = box.querySelector('button'), timer = null;
            function show(i) {
                label.textContent =
                    data.labels[i] + ' — ' + data.total_label + ': ' + data.totals[i];
                box.setAttribute('data-partial', data.partial[i] ? '1' : '0');
                layer.eachLayer(function (l) {
                    var code = l.feature.properties.code;
                    var v = data.values[code] || [];
                    var c = data.colours[code] || [];
                    l.setStyle({fillColor: c[i] || '#ffffff'});
                    var shown = v[i] === undefined ? '0' : v[i];
                    var tip = document.createElement('span');
                    tip.textContent = l.feature.properties.name + ': ' + shown;
                    l.setTooltipContent(tip);
                });
            }
            slider.addEventListener('input', function () { show(+slider.value); });
            button.addEventListener('click', function () {
                if (timer) {
                    clearInterval(timer); timer = null; button.textContent = data.play; return;
                }
                button.textContent = data.pause;
                timer = setInterval(function () {
                    slider.value = (+slider.value + 1) % data.periods.length;
                    show(+slider.value);
                }, 900);
            });
            if (data.periods.length) { show(data.opening); }
            window.timporaTimeline = {show: show, periods: data.periods};
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layer: folium.GeoJson, data: dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "TimeSlider"
        self.layer = layer
        self.data = data


def _period_label(start: str, period: str) -> str:
    return start if period == "week" else start[:7]


def partial_until(
    periods: list[str], *, period: str, filters: MapFilters, now: dt.datetime
) -> list[dt.date | None]:
    """For each period, the last day it covers when that is short of its end (the current
    week or month, or one cut by the filter's window), else None."""
    cutoff = now.astimezone(WIB)
    if filters.end is not None:
        cutoff = min(cutoff, filters.end.astimezone(WIB))
    start_at = filters.start.astimezone(WIB).date() if filters.start is not None else None
    marks: list[dt.date | None] = []
    for text in periods:
        first = dt.date.fromisoformat(text)
        if period == "week":
            after = first + dt.timedelta(days=7)
        else:
            after = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        end_at = dt.datetime.combine(after, dt.time(), tzinfo=WIB)
        cut_late = cutoff < end_at
        cut_early = start_at is not None and start_at > first
        if cut_late:
            # The last day with any time in the window (an end at midnight covers the day before).
            last = (cutoff - dt.timedelta(microseconds=1)).date()
            marks.append(max(first, last))
        elif cut_early:
            marks.append(after - dt.timedelta(days=1))
        else:
            marks.append(None)
    return marks


def build_timeline(
    *, session: Session, principal_role: str, params: MapParams, settings: Settings
) -> folium.Map:
    lang = params.lang
    filters = params.filters
    persons = filters.persons
    series = mapdata.period_counts(session=session, filters=filters, period=params.period)
    stats = mapdata.kecamatan_stats(session=session, filters=filters)
    visible = [
        n
        for per in series.counts.values()
        for code, n in per.items()
        if code and not is_suppressed(n, role=principal_role, persons=persons)
    ]
    classes = classify(visible, integer=True)
    suppressed = False
    values: dict[str, list[str]] = {}
    colours: dict[str, list[str]] = {}
    for s in stats:
        vals, cols = [], []
        for p in series.periods:
            n = series.counts.get(p, {}).get(s.code, 0)
            hidden = is_suppressed(n, role=principal_role, persons=persons)
            suppressed = suppressed or hidden
            vals.append(str(shown_count(n, role=principal_role, persons=persons)))
            if hidden:
                cols.append(SUPPRESSED_COLOUR)
            elif n == 0 or classes is None:
                cols.append(ZERO_COLOUR)
            else:
                cols.append(classes.colour(n))
        values[s.code] = vals
        colours[s.code] = cols
    totals = [str(shown_count(n, role=principal_role, persons=persons)) for n in series.totals()]

    m = new_map(session=session, settings=settings, lang=lang, params=params)
    layers = add_background(m, session=session, lang=lang, kecamatan=False)
    features = [
        {
            "type": "Feature",
            "geometry": s.geometry,
            "properties": {"code": s.code, "name": s.name},
        }
        for s in stats
    ]
    if features:
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=t("choropleth", lang),
            style_function=lambda _f: {
                "fillColor": "#ffffff",
                "fillOpacity": 0.75,
                "color": "#555",
                "weight": 1,
            },
            tooltip=FieldsTooltip(["name"], labels=False),
        )
        layer.add_to(m)
        marks = partial_until(
            series.periods, period=params.period, filters=filters, now=dt.datetime.now(WIB)
        )
        labels = [
            _period_label(p, params.period)
            + ("" if mark is None else f" ({t('partial_period', lang, day=mark.isoformat())})")
            for p, mark in zip(series.periods, marks, strict=True)
        ]
        complete = [i for i, mark in enumerate(marks) if mark is None]
        TimeSlider(
            layer,
            {
                # Opens on the last complete period: a partial one looks like a collapse.
                "opening": complete[-1] if complete else len(series.periods) - 1,
                "partial": [mark is not None for mark in marks],
                "title": t("week" if params.period == "week" else "month", lang),
                "periods": series.periods,
                "labels": labels,
                "values": values,
                "colours": colours,
                "totals": totals,
                "total_label": t("total", lang),
                "play": t("play", lang),
                "pause": t("pause", lang),
            },
        ).add_to(m)
    return finish_view(
        m,
        layers=layers,
        params=params,
        title=f"{t('timeline', lang)}: {t(filters.layer, lang)}",
        legend_box=legend(
            classes,
            title=f"{t('count', lang)} / {t(params.period, lang).lower()}",
            lang=lang,
            suppressed=suppressed,
            zero=any(c == ZERO_COLOUR for cols in colours.values() for c in cols),
            notes=[f"{t('period', lang)}: {len(series.periods)}"],
        ),
    )
