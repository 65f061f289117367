"""Every string a map page shows, escaped for where it lands: HTML text, or a tooltip.

Names of workplaces, zones, kecamatan, towns and crossing posts come from people and imported
files, so they are never written into a page as markup or code:

- :func:`html_text` for HTML built here (legends, captions, boxes);
- :class:`TextTooltip` for a tooltip with one string, :class:`FieldsTooltip` for a table of
  GeoJSON properties. folium's own tooltips write their text into a JavaScript template string
  (where ``${…}`` runs and a backtick ends the string) and GeoJSON properties into ``innerHTML``;
  these two pass the text as a JSON value and show it as text.

Values reach the page's script as JSON with ``<``, ``>``, ``&`` and ``'`` escaped (folium's
``tojson``), so no value ends the ``<script>`` element; ``maps.assets.render_html`` renders the
page so that no value is read as a template a second time.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

import folium
from folium.template import Template


def html_text(value: object) -> str:
    """``value`` as HTML text: ``<``, ``>``, ``&`` and both quotes escaped."""
    return html.escape(str(value), quote=True)


def js_string(value: str) -> str:
    """``value`` as a JavaScript string literal that cannot end the ``<script>`` element it is
    written in (letters outside ASCII stay readable)."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


class TextTooltip(folium.Tooltip):
    """A tooltip showing one string as text (escaped HTML passed as a JSON value)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.bindTooltip(
                {{ this.content_js }},
                {{ this.options|tojavascript }}
            );
        {% endmacro %}
        """
    )

    def __init__(self, text: object, *, sticky: bool = True, **options: Any) -> None:
        super().__init__(str(text), sticky=sticky, **options)
        self._name = "TextTooltip"
        self.content_js = js_string(html_text(text))


class FieldsTooltip(folium.GeoJsonTooltip):
    """GeoJSON properties as a table in a tooltip; cells are filled with ``textContent``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindTooltip(function (layer) {
            var fields = {{ this.fields|tojavascript }};
            var aliases = {{ this.aliases|tojavascript }};
            var table = document.createElement("table");
            fields.forEach(function (field, i) {
                var value = layer.feature.properties[field];
                var row = table.insertRow();
                {% if this.labels %}
                var head = document.createElement("th");
                head.textContent = aliases[i];
                row.appendChild(head);
                {% endif %}
                row.insertCell().textContent = value === null || value === undefined ? ""
                    : typeof value === "object" ? JSON.stringify(value) : String(value);
            });
            return table;
        }, {{ this.tooltip_options|tojavascript }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        fields: Sequence[str],
        aliases: Sequence[str] | None = None,
        *,
        labels: bool = True,
        sticky: bool = True,
    ) -> None:
        super().__init__(
            fields=list(fields),
            aliases=list(aliases) if aliases is not None else None,
            labels=labels,
            sticky=sticky,
        )
        self._name = "FieldsTooltip"
