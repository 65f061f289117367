"""Synthetic demo data with a known answer.

``seed(session=..., seed=7, size="small")`` generates plausible but entirely synthetic
workplaces, foreigners, sightings and incidents for Kabupaten Sambas and loads them through the
bulk importer. The planted hotspots and the emerging hotspot are in ``ground_truth(...)`` and in
the JSON file the CLI writes (docs/demo-data.md). Never real people: names come from Faker with a
fixed seed and carry the marker "(Sintetis)".
"""

from geo.demo.generate import SIZES, DemoData, generate, load_geography
from geo.demo.sampling import Geography
from geo.demo.seed import DemoReport, default_ground_truth_path, seed
from geo.demo.truth import HOTSPOTS, ground_truth

__all__ = [
    "HOTSPOTS",
    "SIZES",
    "DemoData",
    "DemoReport",
    "Geography",
    "default_ground_truth_path",
    "generate",
    "ground_truth",
    "load_geography",
    "seed",
]
