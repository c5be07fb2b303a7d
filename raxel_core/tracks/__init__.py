"""2D point tracks: pyramidal Lucas-Kanade tracking on a grid (:mod:`.tracking`), checks of tracks
brought from other nodes against a video and the overlay drawing (:mod:`.overlay`). The track types
and their core ComfyUI / JSON formats live in :mod:`raxel_core.interop` (``Tracks2D``)."""
from .tracking import PointTracks, TrackerSettings, grid_spacing, track_points

__all__ = ["PointTracks", "TrackerSettings", "grid_spacing", "track_points"]
