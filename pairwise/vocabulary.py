"""The artefact tags an expert can put on either side of a pair."""

from __future__ import annotations

# slug -> label shown on the judge page. Slugs are stored; labels may change.
TAGS: dict[str, str] = {
    "halo": "Halos",
    "banding": "Banding / posterisation",
    "fringing": "Colour fringing",
    "colour_cast": "Colour cast",
    "over_smoothing": "Over-smoothing (plastic look)",
    "lost_texture": "Lost texture / detail",
    "over_sharpening": "Over-sharpening",
    "noise": "Noise or compression artefacts",
    "bad_edges": "Bad mask / cut-out edges",
    "distortion": "Warped or distorted shapes",
    "instruction_not_followed": "Instruction not followed",
}
