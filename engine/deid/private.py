"""Private attributes: removed, except (with Retain Safe Private) a short list known to hold no identity.

The safe list holds diffusion-weighting parameters that MR analysis needs and that PS3.15 Annex E
(Table E.3.10-1, "Safe Private Attributes") lists as safe: the b-value and gradient direction of
Siemens, GE and Philips. Anything else, private sequences included, is removed even with the option,
because a private element's meaning cannot be known without its vendor's documentation.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

# (private creator, group, element offset within the creator's block)
SAFE_PRIVATE: frozenset[tuple[str, int, int]] = frozenset(
    {
        ("SIEMENS MR HEADER", 0x0019, 0x0C),  # B_value
        ("SIEMENS MR HEADER", 0x0019, 0x0D),  # DiffusionDirectionality
        ("SIEMENS MR HEADER", 0x0019, 0x0E),  # DiffusionGradientDirection
        ("SIEMENS MR HEADER", 0x0019, 0x27),  # B_matrix
        ("GEMS_PARM_01", 0x0043, 0x39),  # slop_int_6..9: b-value and diffusion scaling
        ("Philips Imaging DD 001", 0x2001, 0x03),  # Diffusion B-Factor
    }
)


def filter_private(ds: Dataset, retain_safe: bool) -> None:
    """Delete the private elements of ``ds`` (this level only) that are not kept, and unused creators."""
    private_tags = [tag for tag in ds.keys() if tag.is_private]
    kept_blocks: set[tuple[int, int]] = set()
    for tag in private_tags:
        if tag.element < 0x1000:
            continue
        block = tag.element >> 8
        creator_elem = ds.get((tag.group, block))
        creator = str(creator_elem.value).strip() if creator_elem is not None else ""
        safe = retain_safe and ds[tag].VR != "SQ" and (creator, tag.group, tag.element & 0xFF) in SAFE_PRIVATE
        if safe:
            kept_blocks.add((tag.group, block))
        else:
            del ds[tag]
    for tag in private_tags:
        if tag.element < 0x1000 and (tag.group, tag.element) not in kept_blocks:
            del ds[tag]
