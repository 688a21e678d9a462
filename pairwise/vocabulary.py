"""The artefact tags an expert can put on either side of a pair."""

from __future__ import annotations

# slug -> label shown on the judge page. Slugs are stored; labels may change.
# Grouped as retouchers scan an image: tone and colour, then cleanliness,
# then structure, then the task. The page offers them in this order.
TAGS: dict[str, str] = {
    "clipped_highlights": "Clipped highlights",
    "crushed_shadows": "Crushed shadows",
    "colour_cast": "Colour cast",
    "oversaturation": "Oversaturation",
    "product_colour_shift": "Product colour shift",
    "skin_tone_shift": "Skin tone shift",
    "banding": "Banding / posterisation",
    "fringing": "Colour fringing",
    "halo": "Halos",
    "noise": "Noise / grain",
    "compression": "Compression artefacts",
    "dust_spots": "Dust or spots left",
    "clone_marks": "Cloning / healing marks",
    "over_smoothing": "Over-smoothing (plastic look)",
    "lost_texture": "Lost texture / detail",
    "over_sharpening": "Over-sharpening",
    "bad_edges": "Bad mask / cut-out edges",
    "distortion": "Warped or distorted shapes",
    "invented_content": "Invented or garbled content",
    "changes_outside": "Changes outside the edit area",
    "instruction_not_followed": "Instruction not followed",
}
