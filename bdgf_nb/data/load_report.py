"""What loading did to the data: every pixel, polygon, class and band dropped, masked, filled,
resampled or relabelled, with its count and the rule that did it.

The loaders (raster_scene.py, tiles.py, stacking.py, vector.py) keep their counts in
`Scene.metadata`; `load_report(scene)` reads them back into one typed `LoadReport`, which notebook
00 prints as a short table and records in summary.json (`LoadReport.to_dict`). Rules apply in
order (label remap, polygons, overlaps, rare classes, nodata `mask`), each on what the previous one
left, so the labelled pixels each removes add up: read = kept + sum of the removals.

A rule that removes more than `WARN_SHARE` (10 %) of the labelled pixels read gets a warning
(`LoadReport.warnings`): a tenth of the labels is more than a rounding detail, and a user should
have chosen it (a DSM covering half the scene under `nodata: mask` removes about half).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bdgf_nb.data.scene import PixelScene, Scene

WARN_SHARE = 0.10  # a rule removing more than this share of the labelled pixels read is warned about

Unit = Literal["pixels", "labelled pixels", "polygons", "classes", "bands"]
Action = Literal["dropped", "masked", "filled", "resampled", "unlabelled", "merged", "relabelled"]


@dataclass(frozen=True)
class LoadEvent:
    """One rule's effect: `count` `unit` `action` in `subject` (a modality, the labels, a class
    list) by `rule` (as the catalog or the loader states it); `labelled_removed`: the labelled
    pixels it took out (0 for a rule that removes no label, e.g. a fill)."""

    subject: str
    action: Action
    count: int
    unit: Unit
    rule: str
    labelled_removed: int = 0
    detail: str = ""


@dataclass(frozen=True)
class LoadReport:
    """Every load event of one scene. `labelled_read`: labelled pixels before any rule;
    `labelled_kept`: after all of them (the scene's labelled pixels)."""

    dataset: str
    labelled_read: int
    labelled_kept: int
    events: tuple[LoadEvent, ...] = ()
    warn_share: float = WARN_SHARE
    notes: tuple[str, ...] = field(default=())

    def share(self, event: LoadEvent) -> float:
        return event.labelled_removed / self.labelled_read if self.labelled_read else 0.0

    @property
    def warnings(self) -> list[str]:
        """One sentence per rule that removed more than `warn_share` of the labelled pixels."""
        return [
            f"{e.rule} ({e.subject}) removed {e.labelled_removed} of {self.labelled_read} labelled pixels "
            f"({100 * self.share(e):.1f} %, more than {100 * self.warn_share:.0f} %); check that this is meant"
            for e in self.events
            if self.share(e) > self.warn_share
        ]

    def rows(self) -> list[dict[str, Any]]:
        """One row per event (a single "nothing" row when loading changed nothing), for a table."""
        if not self.events:
            return [
                {
                    "subject": "all",
                    "action": "none",
                    "count": 0,
                    "unit": "",
                    "rule": "nothing dropped, masked, filled, resampled or relabelled",
                    "labelled removed": 0,
                    "share": "0.0 %",
                }
            ]
        return [
            {
                "subject": e.subject,
                "action": e.action,
                "count": e.count,
                "unit": e.unit,
                "rule": e.rule + (f" ({e.detail})" if e.detail else ""),
                "labelled removed": e.labelled_removed,
                "share": f"{100 * self.share(e):.1f} %",
            }
            for e in self.events
        ]

    def table(self) -> str:
        """The rows as a short plain-text table, with the labelled pixels read and kept."""
        rows = self.rows()
        keys = list(rows[0])
        widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
        lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
        lines += ["  ".join(str(r[k]).ljust(widths[k]) for k in keys) for r in rows]
        kept = 100 * self.labelled_kept / self.labelled_read if self.labelled_read else 100.0
        lines.append(f"labelled pixels: {self.labelled_read} read, {self.labelled_kept} kept ({kept:.1f} %)")
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (summary.json): the fields, the rows' events and the warnings."""
        return {**asdict(self), "events": [asdict(e) for e in self.events], "warnings": self.warnings}


def _nodata_events(nodata: dict[str, Any], labelled: dict[str, int]) -> list[LoadEvent]:
    """Per modality: holes masked (labelled pixels removed) or filled; `nodata` maps a modality
    to its apply_policy report (tiles: summed over tiles beforehand)."""
    events = []
    for modality, r in nodata.items():
        if not isinstance(r, dict) or not r.get("holes"):
            continue
        cause = f"; {r['cause']}" if r.get("cause") else ""
        rules: tuple[tuple[Action, str, int], ...] = (
            ("masked", f"nodata: {{{modality}: mask}}", labelled.get(modality, 0)),
            ("filled", f"nodata: {{{modality}: {{{r['policy']}}}}}", 0),
        )
        for action, rule, removed in rules:
            if r.get(action):
                events.append(
                    LoadEvent(modality, action, int(r[action]), "pixels", rule, removed, f"pixels without data{cause}")
                )
    return events


def _summed_nodata(per_tile: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    total: dict[str, dict[str, Any]] = {}
    for tile in per_tile.values():
        for modality, r in tile.items():
            t = total.setdefault(modality, {"policy": r.get("policy"), "holes": 0, "filled": 0, "masked": 0})
            for key in ("holes", "filled", "masked"):
                t[key] += int(r.get(key, 0))
    return total


def _label_events(labels: dict[str, Any]) -> list[LoadEvent]:
    """Polygons without a class or outside the grid, overlaps, rare classes (vector.py's report)."""
    events = [
        LoadEvent("labels", "dropped", int(labels[key]), "polygons", rule, 0, f"of {labels.get('polygons')} polygons")
        for key, rule in (
            ("polygons_without_class", "empty class field (or no joined row)"),
            ("polygons_outside", "outside the grid (no pixel centre inside)"),
        )
        if labels.get(key)
    ]
    if labels.get("overlap_pixels"):
        events.append(
            LoadEvent(
                "labels",
                "unlabelled",
                int(labels["overlap_pixels"]),
                "pixels",
                "overlap of polygons of different classes",
                int(labels["overlap_pixels"]),
            )
        )
    empty = labels.get("classes_without_pixels", [])
    if empty:  # polygons outside the grid, or too small to hold a pixel centre
        events.append(
            LoadEvent(
                "labels", "dropped", len(empty), "classes", "no pixel centre inside its polygons", 0, ", ".join(empty)
            )
        )
    before, rare, rule = labels.get("pixels_per_class_before", {}), labels.get("rare", {}), labels.get("rare_rule", {})
    for action in ("dropped", "merged"):
        classes = sorted(c for c, what in rare.items() if what.startswith(action))
        if not classes:
            continue
        pixels = sum(int(before.get(c, 0)) for c in classes)
        shapes = sum(int(labels.get("polygons_per_class", {}).get(c, 0)) for c in classes)
        events.append(
            LoadEvent(
                "labels",
                action,
                len(classes),
                "classes",
                f"rare classes (min_pixels {rule.get('min_pixels', 0)}, min_groups {rule.get('min_groups', 0)})",
                pixels if action == "dropped" else 0,
                f"{', '.join(classes)}: {pixels} pixels, {shapes} polygons",
            )
        )
    return events


def load_report(scene: Scene | PixelScene) -> LoadReport:
    """The LoadReport of a loaded scene, from the counts its loader left in `scene.metadata`."""
    meta = scene.metadata
    labels = scene.gt if isinstance(scene, Scene) else scene.labels
    kept = int((labels > 0).sum())
    events: list[LoadEvent] = []
    for e in meta.get("load_events", ()):  # recorded as they happened (band selection, label remap)
        events.append(LoadEvent(**e))
    events += _label_events(meta.get("labels", {}))
    nodata = dict(meta.get("nodata", {}))
    labelled_masked = dict(nodata.pop("labelled_masked_by", {}))
    total_masked = int(nodata.pop("labelled_pixels_masked", 0))
    if "per_tile" in nodata:
        nodata = _summed_nodata(nodata.pop("per_tile"))
    if total_masked and not labelled_masked and len(nodata) == 1:
        labelled_masked = dict.fromkeys(nodata, total_masked)
    events += _nodata_events(nodata, labelled_masked)
    notes = list(meta.get("benchmark", {}).get("warnings", []))  # a standard benchmark's own checks
    if total_masked and total_masked < sum(labelled_masked.values()):
        notes.append(
            f"{total_masked} labelled pixels masked in all: a pixel without data in several modalities counts in each"
        )
    for modality, rule in meta.get("resampled", {}).items():
        what = "area mean of the finer raster" if rule == "average" else f"{rule} onto the reference grid"
        if modality in scene.channels:
            events.append(LoadEvent(modality, "resampled", scene.channels[modality], "bands", what))
        else:  # labels or a mask: every pixel of the grid
            events.append(LoadEvent(modality, "resampled", int(labels.size), "pixels", what))
    removed = sum(e.labelled_removed for e in events if e.action != "masked") + total_masked
    return LoadReport(scene.name, kept + removed, kept, tuple(events), notes=tuple(notes))
